using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using NanoVlm.Runtime;

namespace NanoVlm.Models;

/// <summary>Pixel shuffle (fewer, wider image tokens) then a linear map into the decoder's hidden size.</summary>
public sealed class ModalityProjector : Module<Tensor, Tensor>
{
    readonly Linear proj;
    readonly int factor;

    public ModalityProjector(VlmConfig cfg) : base(nameof(ModalityProjector))
    {
        factor = cfg.MpPixelShuffleFactor;
        proj = Linear(cfg.VitHiddenDim * factor * factor, cfg.LmHiddenDim, hasBias: false);
        RegisterComponents();
    }

    /// <summary>[B, S, D] -> [B, S/f², D·f²]: each f×f neighbourhood of the s×s token grid becomes one token.</summary>
    public static Tensor PixelShuffle(Tensor x, int factor)
    {
        var (b, seq, d) = (x.shape[0], x.shape[1], x.shape[2]);
        var s = (long)Math.Sqrt(seq);
        if (s * s != seq || s % factor != 0)
            throw new NanoVlmException($"pixel shuffle: {seq} tokens do not form a square grid divisible by {factor}");
        var h = s / factor;
        return x.reshape(b, h, factor, h, factor, d).permute(0, 1, 3, 2, 4, 5).reshape(b, h * h, d * factor * factor);
    }

    public override Tensor forward(Tensor x)
    {
        using var shuffled = PixelShuffle(x, factor);
        return proj.call(shuffled);
    }
}
