using NanoVlm.Models;

namespace NanoVlm.Benchmarks;

/// <summary>Forward FLOPs of one batch, split by component (multiply-add = 2 FLOPs).</summary>
public sealed record FlopCount(double Vision, double Projector, double Decoder)
{
    public double Forward => Vision + Projector + Decoder;

    /// <summary>Forward + backward: the backward pass costs twice the forward (gradients for inputs and for weights).</summary>
    public double TrainingStep => 3 * Forward;
}

/// <summary>
/// Model FLOPs counted from the configuration (the PaLM/MFU convention: only matrix multiplies, every attention
/// score counted even where a causal mask discards it). Per token a weight matrix of P entries costs 2P; attention
/// over T keys costs 2·T·width for the scores and 2·T·width for the weighted sum.
/// <list type="bullet">
/// <item>ViT, per image of N = (img/patch)² tokens: 2N·(3·patch²·C + L_v·(4C² + 2·C·I_v)) + L_v·4N²·C.</item>
/// <item>Projector, per image: 2·(N/f²)·(C·f²)·H.</item>
/// <item>Decoder, per sample of T tokens: 2T·(L·(2H² + 2·H·kv·d + 3·H·I) + H·V) + L·4T²·H (the head over every position).</item>
/// </list>
/// Normalisations, activations, RoPE and softmax are left out (a few percent at these sizes).
/// </summary>
public static class ModelFlops
{
    public static FlopCount Forward(VlmConfig cfg, int batch, int seqLen, int imagesPerSample)
    {
        double images = (double)batch * imagesPerSample;
        double n = cfg.ImagePatchGrid * cfg.ImagePatchGrid, c = cfg.VitHiddenDim;
        var vitMatmulParams = 3.0 * cfg.VitPatchSize * cfg.VitPatchSize * c + cfg.VitNBlocks * (4 * c * c + 2 * c * cfg.VitInterDim);
        var vision = images * (2 * n * vitMatmulParams + cfg.VitNBlocks * 4 * n * n * c);

        double f2 = cfg.MpPixelShuffleFactor * cfg.MpPixelShuffleFactor, h = cfg.LmHiddenDim;
        var projector = images * 2 * (n / f2) * (c * f2) * h;

        double t = seqLen, kv = (double)cfg.LmNKvHeads * cfg.LmHeadDim;
        var lmMatmulParams = cfg.LmNBlocks * (2 * h * h + 2 * h * kv + 3 * h * cfg.LmInterDim) + h * cfg.LmVocabSize;
        var decoder = batch * (2 * t * lmMatmulParams + cfg.LmNBlocks * 4 * t * t * h);
        return new FlopCount(vision, projector, decoder);
    }
}
