using NanoVlm.Data;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Data;

public class ImageProcessorTests
{
    const int W = 24, H = 24;
    static readonly byte[] Rgb = ImageBytes.Pattern(W, H);

    static float[] Values(Tensor t) => t.data<float>().ToArray();

    static void AssertExact(byte[] expectedRgb, Tensor actual, int size)
    {
        Assert.Equal(new long[] { 3, size, size }, actual.shape);
        Assert.Equal(ScalarType.Float32, actual.dtype);
        var v = Values(actual);
        for (var c = 0; c < 3; c++)
            for (var p = 0; p < size * size; p++)
                Assert.Equal(expectedRgb[p * 3 + c] / 255f, v[c * size * size + p]);
    }

    static double MeanAbsError(byte[] expectedRgb, Tensor actual)
    {
        var size = (int)actual.shape[1];
        var v = Values(actual);
        double sum = 0;
        for (var c = 0; c < 3; c++)
            for (var p = 0; p < size * size; p++)
                sum += Math.Abs(expectedRgb[p * 3 + c] / 255.0 - v[c * size * size + p]);
        return sum / v.Length;
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Webp)]
    public void LosslessFormatsAtTargetSizeAreBytesOver255Exactly(SKEncodedImageFormat format)
    {
        using var t = new ImageProcessor(W).Process(ImageBytes.Encode(Rgb, W, H, format), "test");
        AssertExact(Rgb, t, W);
    }

    [Fact]
    public void BmpAndGifFirstFrameDecode()
    {
        var processor = new ImageProcessor(W);
        using (var bmp = processor.Process(ImageBytes.Bmp(Rgb, W, H), "test.bmp")) AssertExact(Rgb, bmp, W);

        var palette = new byte[768];
        for (var i = 0; i < 256; i++) { palette[i * 3] = (byte)i; palette[i * 3 + 1] = (byte)(255 - i); palette[i * 3 + 2] = (byte)(i * 7); }
        var first = Enumerable.Range(0, W * H).Select(p => (byte)(p % 256)).ToArray();
        var second = Enumerable.Range(0, W * H).Select(p => (byte)(255 - p % 256)).ToArray();
        var expected = first.SelectMany(i => new[] { palette[i * 3], palette[i * 3 + 1], palette[i * 3 + 2] }).ToArray();
        using var gif = processor.Process(ImageBytes.Gif(palette, W, H, first, second), "anim.gif");
        AssertExact(expected, gif, W);
    }

    [Fact]
    public void AlphaIsDroppedWithoutCompositing()
    {
        var alpha = Enumerable.Range(0, W * H).Select(p => (byte)(p % 3 == 0 ? 0 : 128)).ToArray();
        using var t = new ImageProcessor(W).Process(ImageBytes.Encode(Rgb, W, H, SKEncodedImageFormat.Png, alpha: alpha), "rgba.png");
        AssertExact(Rgb, t, W);
    }

    [Fact]
    public void GrayscaleBecomesThreeEqualChannels()
    {
        var gray = Enumerable.Range(0, W * H).Select(p => (byte)(p * 7)).ToArray();
        using var t = new ImageProcessor(W).Process(ImageBytes.EncodeGray(gray, W, H), "gray.png");
        AssertExact(gray.SelectMany(g => new[] { g, g, g }).ToArray(), t, W);
    }

    [Fact]
    public void PaletteCmykAnd16BitMatchPil()
    {
        var processor = new ImageProcessor(32);
        var palettePil = processor.DecodeFile(Fixture.Path("images", "palette-pil.png")).Pixels;
        using (var palette = processor.ProcessFile(Fixture.Path("images", "palette.png"))) AssertExact(palettePil, palette, 32);

        var cmykPil = processor.DecodeFile(Fixture.Path("images", "cmyk-pil.png")).Pixels;
        using (var cmyk = processor.ProcessFile(Fixture.Path("images", "cmyk.jpg")))
            Assert.True(MeanAbsError(cmykPil, cmyk) < 3 / 255.0, $"CMYK MAE {MeanAbsError(cmykPil, cmyk) * 255:F2}/255");

        var gray16 = processor.DecodeFile(Fixture.Path("images", "gray16.png"));
        for (var p = 0; p < 32 * 32; p++)
        {
            var high = (2 * p + 1) % 256;
            Assert.InRange(gray16.Pixels[p * 3], high - 1, high + 1);
            Assert.Equal(gray16.Pixels[p * 3], gray16.Pixels[p * 3 + 2]);
        }
    }

    [Fact]
    public void JpegDecodesCloseToTheOriginal()
    {
        var smooth = ImageBytes.Pattern(W, H).Select((b, i) => i % 3 == 2 ? (byte)(i / 9) : b).ToArray();
        using var t = new ImageProcessor(W).Process(ImageBytes.Encode(smooth, W, H, SKEncodedImageFormat.Jpeg, 100), "test.jpg");
        Assert.True(MeanAbsError(smooth, t) < 6 / 255.0, $"MAE {MeanAbsError(smooth, t) * 255:F2}/255");
    }

    [Theory]
    [InlineData(1, 6, 4)]
    [InlineData(3, 6, 4)]
    [InlineData(6, 4, 6)]
    [InlineData(8, 4, 6)]
    public void JpegExifOrientationIsApplied(int orientation, int width, int height)
    {
        // A 6x4 image: left half black, right half white; the top-left 2x2 block is mid-grey.
        var rgb = new byte[6 * 4 * 3];
        for (var y = 0; y < 4; y++)
            for (var x = 0; x < 6; x++)
                rgb.AsSpan((y * 6 + x) * 3, 3).Fill(x < 2 && y < 2 ? (byte)128 : x >= 3 ? (byte)255 : (byte)0);
        var jpeg = ImageBytes.WithExifOrientation(ImageBytes.Encode(rgb, 6, 4, SKEncodedImageFormat.Jpeg), orientation);
        var image = new ImageProcessor(8).Decode(jpeg, "exif.jpg");
        Assert.Equal((width, height), (image.Width, image.Height));
        byte At(int x, int y) => image.Pixels[(y * image.Width + x) * 3];
        var (gx, gy) = orientation switch { 1 => (0, 0), 3 => (5, 3), 6 => (3, 0), _ => (0, 5) };
        Assert.InRange(At(gx, gy), 90, 170);
    }

    [Fact]
    public void DownscalingIsPilBilinearExactly()
    {
        var pil = new ImageProcessor(56).DecodeFile(Fixture.Path("images", "photo-56-pil.png")).Pixels;
        using var ours = new ImageProcessor(56).ProcessFile(Fixture.Path("images", "photo.png"));
        AssertExact(pil, ours, 56);
    }

    [Fact]
    public void UpscalingGivesTheTargetShapeInRange()
    {
        using var t = new ImageProcessor(64).Process(ImageBytes.Encode(Rgb, W, H, SKEncodedImageFormat.Png), "small.png");
        Assert.Equal(new long[] { 3, 64, 64 }, t.shape);
        Assert.True(t.min().item<float>() >= 0 && t.max().item<float>() <= 1);
    }

    [Fact]
    public void DecompressionBombsAreRefusedFromTheHeader()
    {
        var e = Assert.Throws<NanoVlmException>(() => new ImageProcessor(W).Decode(ImageBytes.PngHeader(100_000, 100_000), "bomb.png"));
        Assert.Contains("bomb.png", e.Message);
        Assert.Contains("100000x100000", e.Message);
        var big = ImageBytes.Encode(Rgb, W, H, SKEncodedImageFormat.Png);
        Assert.Contains("over the limit", Assert.Throws<NanoVlmException>(() => new ImageProcessor(W, new ImageLimits(MaxFileBytes: 100)).Decode(big, "x.png")).Message);
        Assert.Contains("over the limit", Assert.Throws<NanoVlmException>(() => new ImageProcessor(W, new ImageLimits(MaxPixels: 100)).Decode(big, "x.png")).Message);
    }

    [Fact]
    public void CorruptTruncatedAndEmptyInputsGiveOneLineErrors()
    {
        var png = ImageBytes.Encode(Rgb, W, H, SKEncodedImageFormat.Png);
        var jpeg = ImageBytes.Encode(Rgb, W, H, SKEncodedImageFormat.Jpeg);
        byte[][] bad = [[], [1, 2, 3, 4, 5, 6, 7, 8], png[..(png.Length / 2)], jpeg[..(jpeg.Length / 3)], png[..30], ImageBytes.PngHeader(0, 5)];
        foreach (var bytes in bad)
        {
            var e = Assert.Throws<NanoVlmException>(() => new ImageProcessor(W).Decode(bytes, "row 7 of x.parquet"));
            Assert.StartsWith("row 7 of x.parquet: ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.Contains("not found", Assert.Throws<NanoVlmException>(() => new ImageProcessor(W).DecodeFile("/nonexistent/a.png")).Message);
    }
}
