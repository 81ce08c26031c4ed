using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace NanoVlm.Models;

// Llama-style decoder (nanoVLM models/language_model.py, SmolLM2). Field names are state-dict names.

public sealed class RMSNorm : Module<Tensor, Tensor>
{
    internal readonly Parameter weight;
    internal readonly double eps;

    public RMSNorm(int dim, double eps) : base(nameof(RMSNorm))
    {
        this.eps = eps;
        weight = new Parameter(ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var irms = rsqrt(x.pow(2).mean([-1], keepdim: true) + eps);
        return (x * irms * weight).MoveToOuterDisposeScope();
    }
}

/// <summary>RoPE tables: positions -> (cos, sin) of shape [B, T, head_dim].</summary>
public sealed class RotaryEmbedding : Module<Tensor, (Tensor Cos, Tensor Sin)>
{
    internal readonly Tensor inv_freq;
    internal readonly int originalMaxSeqLen;
    internal readonly double attentionScaling;

    public RotaryEmbedding(VlmConfig cfg) : base(nameof(RotaryEmbedding))
    {
        var dim = cfg.LmHeadDim;
        inv_freq = 1.0 / pow(cfg.LmReBase, arange(0, dim, 2, float32) / dim);
        originalMaxSeqLen = cfg.LmMaxPositionEmbeddings;
        attentionScaling = cfg.LmAttnScaling;
        register_buffer(nameof(inv_freq), inv_freq);
    }

    public override (Tensor Cos, Tensor Sin) forward(Tensor positionIds)
    {
        using var scope = NewDisposeScope();
        var invFreq = inv_freq;
        // Beyond the trained context, stretch the frequencies (nanoVLM's simple dynamic scaling).
        var maxSeq = positionIds.max().item<long>() + 1;
        if (maxSeq > originalMaxSeqLen) invFreq = invFreq / ((double)maxSeq / originalMaxSeqLen);
        var freqs = positionIds.to(float32).unsqueeze(-1) * invFreq;
        var emb = cat([freqs, freqs], -1);
        var cos = emb.cos() * attentionScaling;
        var sin = emb.sin() * attentionScaling;
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>x * cos + rotate_half(x) * sin, with rotate_half(x) = cat(-x2, x1).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var halves = x.chunk(2, -1);
        var rotated = cat([-halves[1], halves[0]], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }
}

/// <summary>Grouped-query attention with RoPE and an optional KV cache.</summary>
public sealed class LanguageModelGroupedQueryAttention : Module<Tensor, Tensor, Tensor, Tensor?, KvCache?, int, Tensor>
{
    internal readonly Linear q_proj, k_proj, v_proj, out_proj;
    readonly Dropout resid_dropout;
    internal readonly int nHeads, nKvHeads, headDim;
    readonly double dropoutP;

    public LanguageModelGroupedQueryAttention(VlmConfig cfg) : base(nameof(LanguageModelGroupedQueryAttention))
    {
        (nHeads, nKvHeads, headDim, dropoutP) = (cfg.LmNHeads, cfg.LmNKvHeads, cfg.LmHeadDim, cfg.LmDropout);
        q_proj = Linear(cfg.LmHiddenDim, cfg.LmHiddenDim, hasBias: false);
        k_proj = Linear(cfg.LmHiddenDim, headDim * nKvHeads, hasBias: false);
        v_proj = Linear(cfg.LmHiddenDim, headDim * nKvHeads, hasBias: false);
        out_proj = Linear(cfg.LmHiddenDim, cfg.LmHiddenDim, hasBias: false);
        resid_dropout = Dropout(cfg.LmDropout);
        RegisterComponents();
    }

    /// <param name="mask">Additive mask [B, 1, T, T_kv] (causal and/or padding) or null for none.</param>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var (b, t, c) = (x.shape[0], x.shape[1], x.shape[2]);
        var q = q_proj.call(x).view(b, t, nHeads, headDim).transpose(1, 2);
        var k = k_proj.call(x).view(b, t, nKvHeads, headDim).transpose(1, 2);
        var v = v_proj.call(x).view(b, t, nKvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);

        // Each kv head serves `groups` consecutive query heads (repeat-interleave). Folding those heads
        // into the query length gives the same math without copying K and V.
        var groups = nHeads / nKvHeads;
        var tKv = k.shape[2];
        q = q.reshape(b, nKvHeads, groups * t, headDim);
        if (mask is not null && groups > 1 && t > 1) // one query row (decoding) broadcasts over the groups as it is
            mask = mask.unsqueeze(2).expand(b, 1, groups, t, tKv).reshape(b, 1, groups * t, tKv);
        var y = F.scaled_dot_product_attention(q, k, v, mask, training ? dropoutP : 0.0);
        y = y.reshape(b, nHeads, t, headDim).transpose(1, 2).reshape(b, t, c);
        return resid_dropout.call(out_proj.call(y)).MoveToOuterDisposeScope();
    }
}

/// <summary>SwiGLU: down(silu(gate(x)) * up(x)).</summary>
public sealed class LanguageModelMLP : Module<Tensor, Tensor>
{
    internal readonly Linear gate_proj, up_proj, down_proj;
    readonly Dropout dropout;

    public LanguageModelMLP(VlmConfig cfg) : base(nameof(LanguageModelMLP))
    {
        gate_proj = Linear(cfg.LmHiddenDim, cfg.LmInterDim, hasBias: false);
        up_proj = Linear(cfg.LmHiddenDim, cfg.LmInterDim, hasBias: false);
        down_proj = Linear(cfg.LmInterDim, cfg.LmHiddenDim, hasBias: false);
        dropout = Dropout(cfg.LmDropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return dropout.call(down_proj.call(F.silu(gate_proj.call(x)) * up_proj.call(x))).MoveToOuterDisposeScope();
    }
}

public sealed class LanguageModelBlock : Module<Tensor, Tensor, Tensor, Tensor?, KvCache?, int, Tensor>
{
    internal readonly RMSNorm norm1, norm2;
    internal readonly LanguageModelGroupedQueryAttention attn;
    internal readonly LanguageModelMLP mlp;

    public LanguageModelBlock(VlmConfig cfg) : base(nameof(LanguageModelBlock))
    {
        norm1 = new RMSNorm(cfg.LmHiddenDim, cfg.LmRmsEps);
        attn = new LanguageModelGroupedQueryAttention(cfg);
        norm2 = new RMSNorm(cfg.LmHiddenDim, cfg.LmRmsEps);
        mlp = new LanguageModelMLP(cfg);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        x = x + attn.call(norm1.call(x), cos, sin, mask, cache, layer);
        x = x + mlp.call(norm2.call(x));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The decoder: embeddings [B, T, H] -> final hidden states [B, T, H]. The VLM applies <c>head</c>.</summary>
public sealed class LanguageModel : Module<Tensor, Tensor?, KvCache?, Tensor?, Tensor>
{
    internal readonly Embedding token_embedding;
    internal readonly RotaryEmbedding rotary_embd;
    internal readonly ModuleList<LanguageModelBlock> blocks;
    internal readonly RMSNorm norm;
    internal readonly Linear head;

    public LanguageModel(VlmConfig cfg) : base(nameof(LanguageModel))
    {
        token_embedding = Embedding(cfg.LmVocabSize, cfg.LmHiddenDim);
        rotary_embd = new RotaryEmbedding(cfg);
        blocks = new ModuleList<LanguageModelBlock>(Enumerable.Range(0, cfg.LmNBlocks).Select(_ => new LanguageModelBlock(cfg)).ToArray());
        norm = new RMSNorm(cfg.LmHiddenDim, cfg.LmRmsEps);
        head = Linear(cfg.LmHiddenDim, cfg.LmVocabSize, hasBias: false);
        RegisterComponents();
        if (cfg.LmTieWeights) head.weight = token_embedding.weight!;
    }

    public int NumLayers => blocks.Count;

    /// <param name="attentionMask">[B, T_kv] with 1 = attend, covering cached and new positions; null = attend to all.</param>
    /// <param name="cache">When given, new keys/values are appended and positions continue from its length.</param>
    /// <param name="sequenceIds">
    /// For packed rows, [B, T]: the sample each token belongs to (1..k, 0 = padding). Tokens then attend causally within their own
    /// sample only and positions restart at 0 for each sample, so every sample computes what it would alone. Not with a cache.
    /// </param>
    public override Tensor forward(Tensor x, Tensor? attentionMask, KvCache? cache, Tensor? sequenceIds)
    {
        if (cache is not null && sequenceIds is not null) throw new ArgumentException("packed sequences are not decoded with a KV cache", nameof(sequenceIds));
        using var scope = NewDisposeScope();
        var (b, t) = (x.shape[0], x.shape[1]);
        var start = cache?.Length ?? 0;
        sequenceIds = sequenceIds?.to(x.device);
        // Every row uses positions start..start+T: left padding does not shift them (RoPE is relative).
        var positions = sequenceIds is null
            ? arange(start, start + t, int64, x.device).unsqueeze(0).expand(b, -1)
            : SamplePositions(sequenceIds);
        if (cache?.RowStarts is { } rowStarts) positions = positions - rowStarts.unsqueeze(1);
        var (cos, sin) = rotary_embd.call(positions);
        cos = cos.unsqueeze(1).to(x.dtype);
        sin = sin.unsqueeze(1).to(x.dtype);
        var mask = sequenceIds is null ? CausalMask(t, start + t, x.dtype, x.device) : SampleMask(sequenceIds, x.dtype);
        if (attentionMask is not null) mask = PaddingMask(attentionMask, start + t, mask, x.dtype);
        for (var i = 0; i < blocks.Count; i++) x = blocks[i].call(x, cos, sin, mask, cache, i);
        cache?.Advance((int)t);
        return norm.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Additive causal mask [1, 1, T, T_kv] for several queries: the last T of the T_kv positions (a prefill, or the rest of a prompt
    /// after a cached prefix) see the keys up to their own; null for one query (decoding is causal by itself).
    /// </summary>
    static Tensor? CausalMask(long t, long tKv, ScalarType dtype, Device device) =>
        t > 1 ? full(t, tKv, double.NegativeInfinity, dtype, device).triu(tKv - t + 1).view(1, 1, t, tKv) : null;

    /// <summary>Additive mask [B, 1, T, T]: -inf unless the key is at or before the query and in the same sample (padding sees padding).</summary>
    static Tensor SampleMask(Tensor sequenceIds, ScalarType dtype)
    {
        var t = sequenceIds.shape[1];
        var sameSample = sequenceIds.unsqueeze(2).eq(sequenceIds.unsqueeze(1));
        var allowed = sameSample.logical_and(ones(t, t, ScalarType.Bool, sequenceIds.device).tril());
        return zeros(allowed.shape, dtype, sequenceIds.device).masked_fill(allowed.logical_not(), double.NegativeInfinity).unsqueeze(1);
    }

    /// <summary>Each token's offset from the first token of its sample: [B, T] int64.</summary>
    static Tensor SamplePositions(Tensor sequenceIds)
    {
        var (b, t) = (sequenceIds.shape[0], sequenceIds.shape[1]);
        var index = arange(t, int64, sequenceIds.device).unsqueeze(0).expand(b, -1);
        var first = cat([ones(b, 1, ScalarType.Bool, sequenceIds.device), sequenceIds[.., 1..].ne(sequenceIds[.., ..^1])], 1);
        var sampleStart = where(first, index, zeros_like(index)).cummax(1).values;
        return index - sampleStart;
    }

    /// <summary>Adds finfo.min on padded keys, as nanoVLM does.</summary>
    static Tensor PaddingMask(Tensor attentionMask, long tKv, Tensor? mask, ScalarType dtype)
    {
        var keys = attentionMask[.., ..(int)tKv].to(dtype);
        var pad = ((1.0 - keys) * finfo(dtype).min).view(keys.shape[0], 1, 1, tKv);
        return mask is null ? pad : mask + pad;
    }
}
