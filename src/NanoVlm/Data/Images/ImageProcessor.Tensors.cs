using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Data;

public sealed partial class ImageProcessor
{
    public Tensor ProcessFile(string path) => ToTensor(DecodeFile(path));

    public Tensor Process(byte[] encoded, string source) => ToTensor(Decode(encoded, source));

    /// <summary>Resizes (when needed) and scales an RGB image to the float32 <c>[3, Size, Size]</c> tensor in [0, 1].</summary>
    public Tensor ToTensor(RgbImage image)
    {
        var resized = PilResize.Resize(image, Size, Size, PilFilter.Bilinear);
        using var scope = NewDisposeScope();
        var chw = tensor(resized.Pixels, [Size, Size, 3], ScalarType.Byte).permute(2, 0, 1).to_type(ScalarType.Float32);
        return chw.div_(255f).contiguous().MoveToOuterDisposeScope();
    }
}
