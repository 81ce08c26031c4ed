namespace NanoVlm.Data;

/// <summary>An image of a sample, decoded only when asked (on a loader worker), named by <see cref="Source"/> in errors.</summary>
public sealed class VqaImage
{
    readonly Func<ImageProcessor, RgbImage> _decode;

    VqaImage(string source, Func<ImageProcessor, RgbImage> decode) => (Source, _decode) = (source, decode);

    public string Source { get; }

    public static VqaImage FromBytes(byte[] encoded, string source) => new(source, p => p.Decode(encoded, source));
    public static VqaImage FromFile(string path) => new(path, p => p.DecodeFile(path));
    public static VqaImage FromPixels(RgbImage image, string source) => new(source, _ => image);

    public RgbImage Decode(ImageProcessor processor) => _decode(processor);
}
