using TorchSharp;

namespace NanoVlm.Data;

/// <summary>
/// An image of a sample, decoded only when asked (on a loader worker), named by <see cref="Source"/> in errors. Its tensor is made
/// through <see cref="ImageProcessor.Process"/>, which bounds the pixels decoded at once across workers.
/// </summary>
public sealed class VqaImage
{
    readonly Func<ImageProcessor, RgbImage> _decode;
    readonly Func<ImageProcessor, torch.Tensor> _toTensor;

    VqaImage(string source, Func<ImageProcessor, RgbImage> decode, Func<ImageProcessor, torch.Tensor> toTensor) =>
        (Source, _decode, _toTensor) = (source, decode, toTensor);

    public string Source { get; }

    public static VqaImage FromBytes(byte[] encoded, string source) => new(source, p => p.Decode(encoded, source), p => p.Process(encoded, source));
    public static VqaImage FromFile(string path) => new(path, p => p.DecodeFile(path), p => p.ProcessFile(path));
    public static VqaImage FromPixels(RgbImage image, string source) => new(source, _ => image, p => p.ToTensor(image));

    public RgbImage Decode(ImageProcessor processor) => _decode(processor);

    public torch.Tensor ToTensor(ImageProcessor processor) => _toTensor(processor);
}
