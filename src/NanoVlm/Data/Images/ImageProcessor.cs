using SkiaSharp;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// nanoVLM's image pipeline: decode (PNG, JPEG with its EXIF orientation applied, WebP, GIF first frame, BMP), convert to 8-bit RGB
/// (alpha dropped without compositing, like PIL's <c>convert("RGB")</c>), resize to <c>size x size</c> with PIL's BILINEAR
/// (<see cref="PilResize"/>, byte-identical), then scale to [0, 1]: a float32 <c>[3, size, size]</c> tensor.
/// An image already <c>size x size</c> is not resampled, so its tensor is exactly bytes / 255. This part decodes (no libtorch:
/// NanoVlm.Onnx compiles it too); the tensors are made in ImageProcessor.Tensors.cs.
/// </summary>
public sealed partial class ImageProcessor(int size, ImageLimits? limits = null)
{
    public int Size { get; } = size > 0 ? size : throw new ArgumentOutOfRangeException(nameof(size));
    public ImageLimits Limits { get; } = limits ?? ImageLimits.Default;

    /// <summary>The pixels this processor's callers (the data workers) decode at once.</summary>
    public PixelBudget InFlight { get; } = new((limits ?? ImageLimits.Default).MaxPixelsInFlight);

    public RgbImage DecodeFile(string path) => Decode(RegularFile.ReadAllBytes(path, Limits.MaxFileBytes, "image file"), path);

    /// <summary>
    /// Decodes an encoded image; <paramref name="source"/> names it in errors (a file, or a parquet row). Its pixels are held against
    /// <see cref="InFlight"/> from the header until the RGB image is made (the peak, about 10 bytes a pixel).
    /// </summary>
    public RgbImage Decode(byte[] encoded, string source)
    {
        CheckFileSize(encoded.Length, source);
        if (encoded.Length == 0) throw new NanoVlmException($"{source}: empty image data");
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new NanoVlmException($"{source}: not a decodable image (unknown format or corrupt header)");
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0) throw new NanoVlmException($"{source}: image has zero size ({width}x{height})");
        if ((long)width * height > Limits.MaxPixels)
            throw new NanoVlmException($"{source}: image is {width}x{height} = {(long)width * height} pixels, over the limit of {Limits.MaxPixels}");
        using var lease = InFlight.Acquire((long)width * height);
        var target = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[target.BytesSize];
        var result = codec.GetPixels(target, rgba);
        if (result is not SKCodecResult.Success)
            throw new NanoVlmException($"{source}: image data is corrupt or truncated ({result})");
        return Orient(DropAlpha(rgba, width, height), codec.EncodedOrigin);
    }

    void CheckFileSize(long bytes, string source)
    {
        if (bytes > Limits.MaxFileBytes)
            throw new NanoVlmException($"{source}: image file is {bytes} bytes, over the limit of {Limits.MaxFileBytes}");
    }

    static RgbImage DropAlpha(byte[] rgba, int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0, o = 0; o < rgb.Length; i += 4, o += 3)
        {
            rgb[o] = rgba[i];
            rgb[o + 1] = rgba[i + 1];
            rgb[o + 2] = rgba[i + 2];
        }
        return new RgbImage(width, height, rgb);
    }

    /// <summary>Applies an EXIF orientation: the stored pixel at (x, y) moves to where a viewer shows it.</summary>
    static RgbImage Orient(RgbImage image, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft) return image;
        var (w, h) = (image.Width, image.Height);
        var transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (ow, oh) = transposed ? (h, w) : (w, h);
        var output = new byte[image.Pixels.Length];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var (dx, dy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (h - 1 - y, x),
                    SKEncodedOrigin.RightBottom => (h - 1 - y, w - 1 - x),
                    _ => (y, w - 1 - x),
                };
                Array.Copy(image.Pixels, (y * w + x) * 3, output, (dy * ow + dx) * 3, 3);
            }
        return new RgbImage(ow, oh, output);
    }
}
