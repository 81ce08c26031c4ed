using NanoVlm.Data;

namespace NanoVlm.Tests.Data;

public class PilResizeTests
{
    static RgbImage Gray(int width, int height, params byte[] values) =>
        new(width, height, values.SelectMany(v => new[] { v, v, v }).ToArray());

    static byte[] Channel(RgbImage image) => image.Pixels.Where((_, i) => i % 3 == 0).ToArray();

    static RgbImage Mirror(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (var y = 0; y < image.Height; y++)
            for (var x = 0; x < image.Width; x++)
                Array.Copy(image.Pixels, (y * image.Width + x) * 3, pixels, (y * image.Width + image.Width - 1 - x) * 3, 3);
        return new RgbImage(image.Width, image.Height, pixels);
    }

    [Theory]
    [InlineData(PilFilter.Bilinear)]
    [InlineData(PilFilter.Bicubic)]
    public void UnchangedSizeIsACopy(PilFilter filter)
    {
        var image = new RgbImage(7, 5, ImageBytes.Pattern(7, 5));
        var resized = PilResize.Resize(image, 7, 5, filter);
        Assert.Equal(image.Pixels, resized.Pixels);
        Assert.NotSame(image.Pixels, resized.Pixels);
    }

    [Theory]
    [InlineData(PilFilter.Bilinear, 9, 4)]
    [InlineData(PilFilter.Bicubic, 9, 4)]
    [InlineData(PilFilter.Bilinear, 31, 17)]
    [InlineData(PilFilter.Bicubic, 31, 17)]
    [InlineData(PilFilter.Bicubic, 1, 1)]
    [InlineData(PilFilter.Bicubic, 300, 2)]
    public void ConstantImageStaysConstant(PilFilter filter, int width, int height)
    {
        foreach (var value in new byte[] { 0, 1, 77, 254, 255 })
        {
            var image = new RgbImage(13, 11, Enumerable.Repeat(value, 13 * 11 * 3).ToArray());
            var resized = PilResize.Resize(image, width, height, filter);
            Assert.Equal((width, height), (resized.Width, resized.Height));
            Assert.All(resized.Pixels, p => Assert.Equal(value, p));
        }
    }

    [Theory]
    [InlineData(PilFilter.Bilinear, 5, 3)]
    [InlineData(PilFilter.Bicubic, 5, 3)]
    [InlineData(PilFilter.Bilinear, 29, 23)]
    [InlineData(PilFilter.Bicubic, 29, 23)]
    public void MirroredInputGivesMirroredOutput(PilFilter filter, int width, int height)
    {
        var image = new RgbImage(12, 9, ImageBytes.Pattern(12, 9));
        var resized = PilResize.Resize(image, width, height, filter);
        Assert.Equal(Mirror(resized).Pixels, PilResize.Resize(Mirror(image), width, height, filter).Pixels);
    }

    /// <summary>
    /// Worked by hand from Pillow's Resample.c. Bilinear 4 -> 2: support 2 input pixels around centres 1.0 and 3.0, so the
    /// weights are (3, 3, 1) / 7 over pixels 0..2 and (1, 3, 3) / 7 over 1..3: 500 / 7 = 71.4 and 1465 / 7 = 209.3.
    /// Bicubic 2 -> 4 (a = -0.5): centres 0.25 and 0.75 weigh pixels 0 and 1 by (0.867, -0.070) and (0.867, 0.227) before
    /// normalising, giving 255 x (-0.088, 0.207) = clipped 0 and 53, and the mirror images 202 and 255.
    /// </summary>
    [Fact]
    public void SmallCasesMatchValuesDerivedFromPillowsAlgorithm()
    {
        Assert.Equal(new byte[] { 71, 209 }, Channel(PilResize.Resize(Gray(4, 1, 0, 100, 200, 255), 2, 1, PilFilter.Bilinear)));
        Assert.Equal(new byte[] { 0, 53, 202, 255 }, Channel(PilResize.Resize(Gray(2, 1, 0, 255), 4, 1, PilFilter.Bicubic)));
        Assert.Equal(new byte[] { 0, 53, 202, 255 }, Channel(PilResize.Resize(Gray(1, 2, 0, 255), 1, 4, PilFilter.Bicubic)));
    }

    [Fact]
    public void BilinearDownscaleIsByteIdenticalToPillow()
    {
        var processor = new ImageProcessor(56);
        var pil = processor.DecodeFile(Fixture.Path("images", "photo-56-pil.png"));
        var ours = PilResize.Resize(processor.DecodeFile(Fixture.Path("images", "photo.png")), 56, 56, PilFilter.Bilinear);
        Assert.Equal(pil.Pixels, ours.Pixels);
    }
}
