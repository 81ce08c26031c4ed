using NanoVlm.Data;

namespace NanoVlm.Onnx;

/// <summary>One image as the vision encoder takes it: float32 tiles [Tiles, 3, S, S] in [0, 1], row-major, and its tile grid.</summary>
public sealed record ImageTiles(float[] Pixels, int Tiles, int Rows, int Cols);

/// <summary>
/// Images prepared as the exported model's generation did, without libtorch: split generations resize (PIL bicubic) to a grid of
/// S x S tiles, after a global tile when the settings say (the resized image shrunk to one tile with torchvision's antialiased
/// bilinear filter, in float32 like torch); older ones resize to one S x S square (PIL bilinear). Decoding is the library's.
/// </summary>
public sealed class OnnxImageProcessor
{
    readonly OnnxVlmSettings settings;
    readonly ImageSplitter? splitter;

    public OnnxImageProcessor(OnnxVlmSettings settings)
    {
        this.settings = settings;
        Images = new ImageProcessor(settings.TileSize);
        if (settings.SplitImages) splitter = new ImageSplitter(settings.TileSize, settings.MaxImageSize, settings.ResizeToMaxSideLen, settings.GlobalImage);
    }

    /// <summary>Decodes image files and bytes, with the library's size limits and EXIF orientation.</summary>
    public ImageProcessor Images { get; }

    public ImageTiles Process(RgbImage image)
    {
        var s = settings.TileSize;
        if (splitter is null) return new ImageTiles(Scaled(PilResize.Resize(image, s, s, PilFilter.Bilinear)), 1, 1, 1);
        var (height, width) = splitter.ResizedSize(image.Height, image.Width);
        var chw = Scaled(PilResize.Resize(image, width, height, PilFilter.Bicubic));
        var (rows, cols) = (height / s, width / s);
        var global = splitter.GlobalTile && rows * cols > 1;
        var tiles = rows * cols + (global ? 1 : 0);
        var pixels = new float[tiles * 3 * s * s];
        var offset = 0;
        if (global)
        {
            AntialiasedBilinear(chw, height, width, s, s).CopyTo(pixels, 0);
            offset = 3 * s * s;
        }
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
                for (var ch = 0; ch < 3; ch++)
                    for (var y = 0; y < s; y++)
                    {
                        Array.Copy(chw, (ch * height + r * s + y) * width + c * s, pixels, offset, s);
                        offset += s;
                    }
        return new ImageTiles(pixels, tiles, rows, cols);
    }

    /// <summary>8-bit interleaved RGB -> float32 planes [3, H, W] in [0, 1].</summary>
    static float[] Scaled(RgbImage image)
    {
        var plane = image.Width * image.Height;
        var chw = new float[3 * plane];
        for (var i = 0; i < plane; i++)
            for (var c = 0; c < 3; c++)
                chw[c * plane + i] = image.Pixels[i * 3 + c] / 255f;
        return chw;
    }

    /// <summary>torch's <c>interpolate(mode=bilinear, align_corners=False, antialias=True)</c>: width pass, then height pass.</summary>
    static float[] AntialiasedBilinear(float[] chw, int height, int width, int outHeight, int outWidth)
    {
        var (wx, wy) = (Weights(width, outWidth), Weights(height, outHeight));
        var across = new float[3 * height * outWidth];
        for (var row = 0; row < 3 * height; row++)
            for (var x = 0; x < outWidth; x++)
            {
                var (first, w) = wx[x];
                var sum = 0f;
                for (var k = 0; k < w.Length; k++) sum += chw[row * width + first + k] * w[k];
                across[row * outWidth + x] = sum;
            }
        var output = new float[3 * outHeight * outWidth];
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < outHeight; y++)
            {
                var (first, w) = wy[y];
                for (var x = 0; x < outWidth; x++)
                {
                    var sum = 0f;
                    for (var k = 0; k < w.Length; k++) sum += across[(c * height + first + k) * outWidth + x] * w[k];
                    output[(c * outHeight + y) * outWidth + x] = sum;
                }
            }
        return output;
    }

    /// <summary>Per output index: the first input index and the normalised triangle-filter weights, its support widened by the scale.</summary>
    static (int First, float[] Weights)[] Weights(int inSize, int outSize)
    {
        var scale = (float)inSize / outSize;
        var support = scale >= 1 ? scale : 1f;
        var invScale = scale >= 1 ? 1 / scale : 1f;
        var result = new (int, float[])[outSize];
        for (var i = 0; i < outSize; i++)
        {
            var center = scale * (i + 0.5f);
            var first = Math.Max((int)(center - support + 0.5f), 0);
            var count = Math.Min((int)(center + support + 0.5f), inSize) - first;
            var w = new float[count];
            var total = 0f;
            for (var j = 0; j < count; j++)
            {
                var d = Math.Abs((j + first - center + 0.5f) * invScale);
                w[j] = d < 1 ? 1 - d : 0;
                total += w[j];
            }
            if (total != 0) for (var j = 0; j < count; j++) w[j] /= total;
            result[i] = (first, w);
        }
        return result;
    }
}
