using NanoVlm.Generation.Kernels;
using NanoVlm.Models;
using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Generation;

/// <summary>
/// The next-token logits of a generation through the decode path chosen for it: the modules, or the kernels, which read a
/// <see cref="DecoderWeights"/> snapshot and serve only models they compute exactly. A step the kernels do not take (more rows, a
/// full cache) runs the modules, which give the same numbers.
/// </summary>
public sealed class DecodeRunner
{
    static readonly HashSet<string> Said = [];
    readonly VisionLanguageModel model;
    readonly DecoderWeights? weights;

    public DecodeRunner(VisionLanguageModel model, DecodePath path)
    {
        this.model = model;
        if (path == DecodePath.Modules) return;
        var (reason, deviceOnly) = DecoderWeights.Refusal(model);
        if (reason is null)
        {
            weights = DecoderWeights.From(model);
            return;
        }
        if (path == DecodePath.Kernels) throw new NanoVlmException($"the kernel decode path cannot serve this model: {reason}");
        lock (Said)
            if (!deviceOnly && Said.Add(reason)) Console.Error.WriteLine($"decoding through the modules: {reason}");
    }

    /// <summary>The path the steps take: <see cref="DecodePath.Kernels"/> or <see cref="DecodePath.Modules"/>.</summary>
    public DecodePath Path => weights is null ? DecodePath.Modules : DecodePath.Kernels;

    /// <summary>Logits [B, V] after the last of <paramref name="embeddings"/> [B, T, H]; appends to <paramref name="cache"/> when given.</summary>
    public Tensor NextLogits(Tensor embeddings, Tensor? mask, KvCache? cache = null)
    {
        if (weights is null) return model.Head(model.Decoder.call(embeddings, mask, cache, null)[.., -1]);
        var rows = embeddings.size(0);
        Tensor? stepped = null;
        // The kernels get every thread (a no-op inside a decode loop's scope, which gave them already) for a step of a few tokens
        // with a cache: a few rows of one, the few new positions of a prompt whose start is cached, a short prompt or a small part
        // of a chunked prefill; libtorch keeps its threads for longer ones.
        if (cache is not null)
            using (Stepping(rows * embeddings.size(1)))
                stepped = DecodeStep.Run(weights, embeddings, mask, cache);
        var hidden = stepped ?? model.Decoder.call(embeddings, mask, cache, null);
        using (Stepping(rows))
            return MatVecLinear.Forward(weights.Head, hidden[.., -1]);
    }

    /// <summary>Around a decode loop of <paramref name="rows"/> tokens a step on the kernels: libtorch single-threaded, the kernels get its threads.</summary>
    public MatVecLinear.DecodingScope Stepping(long rows) =>
        weights is null ? default : MatVecLinear.Decoding(rows, weights.Dtype, model.Device);
}
