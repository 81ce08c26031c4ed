using NanoVlm.Data;
using SkiaSharp;
using static NanoVlm.Tests.Data.ImageBytes;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Reliability;

/// <summary>Hostile images: truncated, zero-sized, decompression bombs, animated, CMYK, garbage; each refused with one line or decoded.</summary>
public sealed class ImageHostileTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly ImageProcessor _processor = new(16);

    static byte[] Gif(int width, int height)
    {
        var palette = Enumerable.Range(0, 768).Select(i => (byte)i).ToArray();
        var frame = new byte[width * height];
        return Data.ImageBytes.Gif(palette, width, height, frame, frame);
    }

    public static TheoryData<string, byte[], string> Cases()
    {
        var png = Encode(Pattern(16, 16), 16, 16, SKEncodedImageFormat.Png);
        var jpeg = Encode(Pattern(16, 16), 16, 16, SKEncodedImageFormat.Jpeg);
        var webp = Encode(Pattern(16, 16), 16, 16, SKEncodedImageFormat.Webp);
        var cmyk = File.ReadAllBytes(Data.Fixture.Path("images", "cmyk.jpg"));
        var gif = Gif(16, 16);
        var bombGif = (byte[])gif.Clone();
        BitConverter.GetBytes((ushort)65535).CopyTo(bombGif, 6); // logical screen 65535 x 65535
        BitConverter.GetBytes((ushort)65535).CopyTo(bombGif, 8);
        return new()
        {
            { "empty.png", [], "empty image data" },
            { "garbage.jpg", Enumerable.Range(0, 512).Select(i => (byte)(i * 31)).ToArray(), "not a decodable image" },
            { "truncated.png", png[..(png.Length / 2)], "corrupt or truncated" },
            { "header-only.png", png[..33], "" },
            { "truncated.jpg", jpeg[..(jpeg.Length / 3)], "" },
            { "truncated.webp", webp[..(webp.Length / 2)], "" },
            { "truncated-cmyk.jpg", cmyk[..(cmyk.Length / 2)], "" },
            { "truncated.gif", gif[..30], "" },
            { "zero-width.png", PngHeader(0, 5), "" },
            { "zero-height.png", PngHeader(5, 0), "" },
            { "bomb-100k.png", PngHeader(100_000, 100_000), "100000x100000" },
            { "bomb-wide.png", PngHeader(int.MaxValue, 1), "" },
            { "bomb-animated.gif", bombGif, "" },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Hostile_images_are_refused_with_one_line_naming_the_file(string name, byte[] bytes, string problem)
    {
        var path = _dir[name];
        File.WriteAllBytes(path, bytes);
        HostileInput.Refused(() => _processor.ProcessFile(path).Dispose(), path, problem);
        HostileInput.Refused(() => _processor.Process(bytes, $"row 3 of {name}").Dispose(), $"row 3 of {name}", problem);
    }

    [Fact]
    public void Animated_and_cmyk_images_decode_like_pil_first_frame_and_rgb()
    {
        using var gif = _processor.Process(Gif(16, 16), "anim.gif");
        Assert.Equal([3L, 16, 16], gif.shape);
        using var cmyk = _processor.ProcessFile(Data.Fixture.Path("images", "cmyk.jpg"));
        Assert.Equal([3L, 16, 16], cmyk.shape);
    }

    [Fact]
    public void Oversized_files_are_refused_before_reading()
    {
        var path = _dir["big.png"];
        using (var f = File.Create(path)) f.SetLength(ImageLimits.Default.MaxFileBytes + 1);
        HostileInput.Refused(() => _processor.ProcessFile(path).Dispose(), path, "over the limit");
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_files_never_crash_the_decoder(string file)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("image"), file);
        try { _processor.ProcessFile(path).Dispose(); }
        catch (NanoVlmException e) { Assert.DoesNotContain('\n', e.Message); Assert.Contains(path, e.Message); }
    }

    public static TheoryData<string> CorpusFiles => HostileInput.Corpus("image");

    public void Dispose() => _dir.Dispose();
}
