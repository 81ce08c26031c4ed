using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Export;

/// <summary>
/// The three graphs of SmolVLM's ONNX layout built from a nanoVLM model's weights, computing what the TorchSharp modules compute:
/// <list type="bullet">
/// <item><c>vision_encoder</c>: <c>pixel_values</c> [batch, num_images, 3, S, S] -> ViT -> pixel shuffle -> projector ->
/// <c>image_features</c> [tiles x mp_image_token_length, lm_hidden_dim], one row per image placeholder in order. For the
/// generations that split images into tiles, <c>pixel_attention_mask</c> [batch, num_images, S, S] (bool) says which tiles are
/// real: prompts with fewer tiles are padded to the batch's count with tiles whose mask is false, and those are left out (nanoVLM's
/// tiles are whole: a tile is real or padding throughout);</item>
/// <item><c>embed_tokens</c>: <c>input_ids</c> [batch, seq] -> <c>inputs_embeds</c> [batch, seq, lm_hidden_dim];</item>
/// <item><c>decoder_model_merged</c>: <c>inputs_embeds</c>, <c>attention_mask</c> [batch, past + seq] (1 = attend),
/// <c>position_ids</c> [batch, seq] and <c>past_key_values.{i}.key/value</c> [batch, kv_heads, past, head_dim] (past 0 on the first
/// step) -> <c>logits</c> [batch, seq, vocab] and <c>present.{i}.key/value</c> [batch, kv_heads, past + seq, head_dim].</item>
/// </list>
/// RoPE takes its positions from <c>position_ids</c> and stretches its frequencies beyond <c>lm_max_position_embeddings</c> as the
/// model does; the mask is causal over the new positions plus the padding of <c>attention_mask</c>.
/// </summary>
public sealed class VlmOnnxGraphs
{
    public const string VisionEncoder = "vision_encoder", EmbedTokens = "embed_tokens", Decoder = "decoder_model_merged";

    readonly VlmConfig cfg;
    readonly Dictionary<string, Tensor> weights;
    readonly int opset;
    readonly bool half;

    /// <param name="halfWeights">Store weights as float16 (half the file size); the graphs still compute and take inputs in float32.</param>
    public VlmOnnxGraphs(VisionLanguageModel model, int opset, bool halfWeights)
    {
        (cfg, this.opset, half) = (model.Config, opset, halfWeights);
        weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value);
    }

    float[] Data(string key, bool transpose = false)
    {
        using var scope = NewDisposeScope();
        var t = weights[key].detach().to(float32).cpu();
        if (transpose) t = t.t();
        return t.contiguous().data<float>().ToArray();
    }

    long[] Shape(string key, bool transpose = false)
    {
        var s = weights[key].shape;
        return transpose ? [s[1], s[0]] : s.ToArray();
    }

    string Weight(OnnxGraph g, string key) => g.Weight(key, Shape(key), Data(key));

    /// <summary>A linear layer's weight stored transposed, [in, out], so the graph multiplies without a transpose.</summary>
    string WeightT(OnnxGraph g, string key) => g.Weight(key, Shape(key, transpose: true), Data(key, transpose: true));

    string Linear(OnnxGraph g, string x, string prefix, bool bias) =>
        g.Linear(x, WeightT(g, prefix + ".weight"), bias ? Weight(g, prefix + ".bias") : null);

    public OnnxModel BuildVisionEncoder()
    {
        var g = new OnnxGraph(VisionEncoder, opset, half);
        var (s, d, p) = (cfg.VitImgSize, (long)cfg.VitHiddenDim, (long)cfg.VitPatchSize);
        var pixels = g.Input("pixel_values", OnnxElementType.Float, "batch_size", "num_images", 3, s, s);
        var tiles = g.Reshape(pixels, -1, 3, s, s);
        if (cfg.Generation.SplitsImages())
        {
            // A tile is real when its first pixel is; only the real ones are encoded.
            var mask = g.Input("pixel_attention_mask", OnnxElementType.Bool, "batch_size", "num_images", s, s);
            var real = g.Op("Gather", [g.Reshape(mask, -1, (long)s * s), g.Int(0)], [OnnxAttribute.Of("axis", 1L)]);
            tiles = g.Op("Gather", [tiles, g.Reshape(g.Op("NonZero", [real]), -1)], [OnnxAttribute.Of("axis", 0L)]);
        }
        g.Scope = "vision_encoder.patch_embedding";
        var x = g.Op("Conv", [tiles, Weight(g, "vision_encoder.patch_embedding.conv.weight"), Weight(g, "vision_encoder.patch_embedding.conv.bias")],
            [OnnxAttribute.Of("kernel_shape", [p, p]), OnnxAttribute.Of("strides", [p, p])]);
        x = g.Transpose(g.Reshape(x, 0, d, -1), 0, 2, 1);
        x = g.Add(x, Weight(g, "vision_encoder.patch_embedding.position_embedding"));
        for (var i = 0; i < cfg.VitNBlocks; i++)
        {
            var b = $"vision_encoder.blocks.{i}";
            g.Scope = b;
            x = g.Add(x, VitAttention(g, LayerNorm(g, x, b + ".ln1"), b + ".attn"));
            x = g.Add(x, VitMlp(g, LayerNorm(g, x, b + ".ln2"), b + ".mlp"));
        }
        g.Scope = "vision_encoder.layer_norm";
        x = LayerNorm(g, x, "vision_encoder.layer_norm");
        g.Scope = "MP";
        var (f, h) = ((long)cfg.MpPixelShuffleFactor, (long)(cfg.ImagePatchGrid / cfg.MpPixelShuffleFactor));
        x = g.Reshape(g.Transpose(g.Reshape(x, 0, h, f, h, f, d), 0, 1, 3, 2, 4, 5), 0, h * h, d * f * f);
        x = g.Reshape(Linear(g, x, "MP.proj", bias: false), -1, cfg.LmHiddenDim);
        g.Output(x, "image_features", OnnxElementType.Float, "image_tokens", cfg.LmHiddenDim);
        return g.Build();
    }

    string LayerNorm(OnnxGraph g, string x, string prefix) =>
        g.Op("LayerNormalization", [x, Weight(g, prefix + ".weight"), Weight(g, prefix + ".bias")],
            [OnnxAttribute.Of("axis", -1L), OnnxAttribute.Of("epsilon", (float)cfg.VitLnEps)]);

    string VitAttention(OnnxGraph g, string x, string prefix)
    {
        var (heads, hd, d) = ((long)cfg.VitNHeads, (long)cfg.VitHeadDim, (long)cfg.VitHiddenDim);
        var qkv = g.Transpose(g.Reshape(Linear(g, x, prefix + ".qkv_proj", bias: true), 0, 0, 3, heads, hd), 2, 0, 3, 1, 4);
        string Part(long i) => g.Op("Gather", [qkv, g.Int(i)], [OnnxAttribute.Of("axis", 0L)]);
        var y = Attention(g, Part(0), Part(1), Part(2), hd, rank: 4, mask: null);
        y = g.Reshape(g.Transpose(y, 0, 2, 1, 3), 0, 0, d);
        return Linear(g, y, prefix + ".out_proj", bias: true);
    }

    /// <summary>
    /// softmax(q k^T / sqrt(head_dim) + mask) v over the last two axes of <paramref name="rank"/>-D tensors (q scaled first, as
    /// scaled_dot_product_attention does).
    /// </summary>
    static string Attention(OnnxGraph g, string q, string k, string v, long headDim, int rank, string? mask)
    {
        var perm = Enumerable.Range(0, rank).Select(i => (long)(i == rank - 2 ? rank - 1 : i == rank - 1 ? rank - 2 : i)).ToArray();
        var scores = g.MatMul(g.Mul(q, g.Float((float)(1.0 / Math.Sqrt(headDim)))), g.Transpose(k, perm));
        if (mask is not null) scores = g.Add(scores, mask);
        return g.MatMul(g.Op("Softmax", [scores], [OnnxAttribute.Of("axis", -1L)]), v);
    }

    string VitMlp(OnnxGraph g, string x, string prefix)
    {
        var h = Linear(g, x, prefix + ".fc1", bias: true);
        // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); opset 17 has no Gelu.
        var cube = g.Mul(g.Mul(h, h), h);
        var inner = g.Mul(g.Add(h, g.Mul(cube, g.Float(0.044715f))), g.Float((float)Math.Sqrt(2 / Math.PI)));
        var gelu = g.Mul(g.Mul(h, g.Float(0.5f)), g.Add(g.Op("Tanh", [inner]), g.Float(1f)));
        return Linear(g, gelu, prefix + ".fc2", bias: true);
    }

    public OnnxModel BuildEmbedTokens()
    {
        var g = new OnnxGraph(EmbedTokens, opset, half);
        var ids = g.Input("input_ids", OnnxElementType.Int64, "batch_size", "sequence_length");
        g.Scope = "decoder.token_embedding";
        var x = g.Op("Gather", [Weight(g, "decoder.token_embedding.weight"), ids], [OnnxAttribute.Of("axis", 0L)]);
        g.Output(x, "inputs_embeds", OnnxElementType.Float, "batch_size", "sequence_length", cfg.LmHiddenDim);
        return g.Build();
    }

    public OnnxModel BuildDecoder()
    {
        var g = new OnnxGraph(Decoder, opset, half);
        var (kv, hd) = ((long)cfg.LmNKvHeads, (long)cfg.LmHeadDim);
        var x = g.Input("inputs_embeds", OnnxElementType.Float, "batch_size", "sequence_length", cfg.LmHiddenDim);
        var mask = g.Input("attention_mask", OnnxElementType.Int64, "batch_size", "total_sequence_length");
        var positions = g.Input("position_ids", OnnxElementType.Int64, "batch_size", "sequence_length");
        var past = Enumerable.Range(0, cfg.LmNBlocks).Select(i => (
            K: g.Input($"past_key_values.{i}.key", OnnxElementType.Float, "batch_size", kv, "past_sequence_length", hd),
            V: g.Input($"past_key_values.{i}.value", OnnxElementType.Float, "batch_size", kv, "past_sequence_length", hd))).ToList();

        g.Scope = "decoder.rotary_embd";
        var (cos, sin) = Rotary(g, positions);
        g.Scope = "decoder.mask";
        var additive = AttentionMask(g, x, mask);
        var presents = new List<(string K, string V)>();
        for (var i = 0; i < cfg.LmNBlocks; i++)
        {
            var b = $"decoder.blocks.{i}";
            g.Scope = b;
            var (attn, present) = DecoderAttention(g, RmsNorm(g, x, b + ".norm1"), b + ".attn", cos, sin, additive, past[i]);
            presents.Add(present);
            x = g.Add(x, attn);
            var h = RmsNorm(g, x, b + ".norm2");
            var gate = Linear(g, h, b + ".mlp.gate_proj", bias: false);
            var silu = g.Mul(gate, g.Op("Sigmoid", [gate]));
            x = g.Add(x, Linear(g, g.Mul(silu, Linear(g, h, b + ".mlp.up_proj", bias: false)), b + ".mlp.down_proj", bias: false));
        }
        g.Scope = "decoder.head";
        var logits = Linear(g, RmsNorm(g, x, "decoder.norm"), "decoder.head", bias: false);
        g.Output(logits, "logits", OnnxElementType.Float, "batch_size", "sequence_length", cfg.LmVocabSize);
        for (var i = 0; i < presents.Count; i++)
        {
            g.Output(presents[i].K, $"present.{i}.key", OnnxElementType.Float, "batch_size", kv, "total_sequence_length", hd);
            g.Output(presents[i].V, $"present.{i}.value", OnnxElementType.Float, "batch_size", kv, "total_sequence_length", hd);
        }
        return g.Build();
    }

    /// <summary>x * rsqrt(mean(x^2) + eps) * weight.</summary>
    string RmsNorm(OnnxGraph g, string x, string prefix)
    {
        var meanSquare = g.MeanLastAxis(g.Mul(x, x));
        var inverse = g.Op("Reciprocal", [g.Op("Sqrt", [g.Add(meanSquare, g.Float((float)cfg.LmRmsEps))])]);
        return g.Mul(g.Mul(x, inverse), Weight(g, prefix + ".weight"));
    }

    /// <summary>
    /// cos and sin [batch, 1, seq, head_dim] of the positions, scaled by lm_attn_scaling. When the largest position reaches past
    /// lm_max_position_embeddings, the frequencies are divided by (largest + 1) / lm_max_position_embeddings, as the model does.
    /// </summary>
    (string Cos, string Sin) Rotary(OnnxGraph g, string positionIds)
    {
        var invFreq = Weight(g, "decoder.rotary_embd.inv_freq");
        var maxPosition = g.Cast(g.Add(g.Op("ReduceMax", [positionIds], [OnnxAttribute.Of("keepdims", 0L)]), g.Int(1)), OnnxElementType.Float);
        var stretch = g.Op("Max", [g.Div(maxPosition, g.Float(cfg.LmMaxPositionEmbeddings)), g.Float(1f)]);
        var freqs = g.Mul(g.Unsqueeze(g.Cast(positionIds, OnnxElementType.Float), -1), g.Div(invFreq, stretch));
        var emb = g.Concat(-1, freqs, freqs);
        var scaling = g.Float((float)cfg.LmAttnScaling);
        return (g.Unsqueeze(g.Mul(g.Op("Cos", [emb]), scaling), 1), g.Unsqueeze(g.Mul(g.Op("Sin", [emb]), scaling), 1));
    }

    /// <summary>
    /// The additive mask [batch, 1, 1, seq, past + seq]: -inf where a key comes after the query (the seq new positions are the last
    /// ones), plus float32's lowest on padded keys (attention_mask 0), as the model adds them. Shaped for the grouped heads.
    /// </summary>
    static string AttentionMask(OnnxGraph g, string inputsEmbeds, string attentionMask)
    {
        var total = g.Op("Squeeze", [g.Dim(attentionMask, 1), g.Ints(0)]);
        var seq = g.Op("Squeeze", [g.Dim(inputsEmbeds, 1), g.Ints(0)]);
        var keys = g.Op("Range", [g.Int(0), total, g.Int(1)]);
        var queries = g.Op("Range", [g.Sub(total, seq), total, g.Int(1)]);
        var visible = g.Op("LessOrEqual", [g.Unsqueeze(keys, 0), g.Unsqueeze(queries, 1)]);
        var causal = g.Op("Where", [visible, g.Float(0f), g.Float(float.NegativeInfinity)]);
        var padding = g.Mul(g.Sub(g.Float(1f), g.Cast(attentionMask, OnnxElementType.Float)), g.Float(float.MinValue));
        return g.Add(g.Unsqueeze(causal, 0), g.Unsqueeze(padding, 1, 2, 3));
    }

    /// <summary>
    /// Grouped-query attention: RoPE on q and k, the new k and v appended to the past, and each kv head serving its group of
    /// consecutive query heads by folding the group into an axis of q ([batch, kv_heads, groups, seq, head_dim]) instead of copying k, v.
    /// </summary>
    (string Output, (string K, string V) Present) DecoderAttention(OnnxGraph g, string x, string prefix, string cos, string sin, string mask,
        (string K, string V) past)
    {
        var (heads, kvHeads, hd) = ((long)cfg.LmNHeads, (long)cfg.LmNKvHeads, (long)cfg.LmHeadDim);
        string Heads(string proj, long n) => g.Transpose(g.Reshape(Linear(g, x, prefix + proj, bias: false), 0, 0, n, hd), 0, 2, 1, 3);
        var q = Rope(g, Heads(".q_proj", heads), cos, sin, hd);
        var k = g.Concat(2, past.K, Rope(g, Heads(".k_proj", kvHeads), cos, sin, hd));
        var v = g.Concat(2, past.V, Heads(".v_proj", kvHeads));
        var grouped = g.Reshape(q, 0, kvHeads, heads / kvHeads, -1, hd);
        var y = Attention(g, grouped, g.Unsqueeze(k, 2), g.Unsqueeze(v, 2), hd, rank: 5, mask);
        y = g.Reshape(g.Transpose(g.Reshape(y, 0, heads, -1, hd), 0, 2, 1, 3), 0, 0, heads * hd);
        return (Linear(g, y, prefix + ".out_proj", bias: false), (k, v));
    }

    /// <summary>x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1) of the two halves of the last axis.</summary>
    static string Rope(OnnxGraph g, string x, string cos, string sin, long headDim)
    {
        var first = g.Slice(x, -1, 0, headDim / 2);
        var second = g.Slice(x, -1, headDim / 2, headDim);
        var rotated = g.Concat(-1, g.Op("Neg", [second]), first);
        return g.Add(g.Mul(x, cos), g.Mul(rotated, sin));
    }
}
