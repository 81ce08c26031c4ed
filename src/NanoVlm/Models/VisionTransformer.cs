using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace NanoVlm.Models;

// SigLIP-style ViT (nanoVLM models/vision_transformer.py). Field names are state-dict names.

/// <summary>Non-overlapping patches -> conv projection -> row-major tokens plus learned positions.</summary>
public sealed class ViTPatchEmbeddings : Module<Tensor, Tensor>
{
    readonly Conv2d conv;
    readonly Parameter position_embedding;

    public ViTPatchEmbeddings(VlmConfig cfg) : base(nameof(ViTPatchEmbeddings))
    {
        conv = Conv2d(3, cfg.VitHiddenDim, cfg.VitPatchSize, stride: cfg.VitPatchSize, padding: Padding.Valid);
        var patches = cfg.ImagePatchGrid * cfg.ImagePatchGrid;
        position_embedding = new Parameter(rand(1, patches, cfg.VitHiddenDim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = conv.call(images).flatten(2).transpose(1, 2); // [B, C, g, g] -> [B, g*g, C]
        return (x + position_embedding).MoveToOuterDisposeScope();
    }
}

/// <summary>Bidirectional multi-head attention with one fused qkv projection (split q, k, v).</summary>
public sealed class ViTMultiHeadAttention : Module<Tensor, Tensor>
{
    readonly Linear qkv_proj, out_proj;
    readonly Dropout resid_dropout;
    readonly int nHeads;
    readonly double dropoutP;

    public ViTMultiHeadAttention(VlmConfig cfg) : base(nameof(ViTMultiHeadAttention))
    {
        nHeads = cfg.VitNHeads;
        qkv_proj = Linear(cfg.VitHiddenDim, 3 * cfg.VitHiddenDim);
        out_proj = Linear(cfg.VitHiddenDim, cfg.VitHiddenDim);
        dropoutP = cfg.VitDropout;
        resid_dropout = Dropout(cfg.VitDropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (b, t, c) = (x.shape[0], x.shape[1], x.shape[2]);
        // [B, T, 3C] -> [3, B, heads, T, head_dim]: q, k, v without copies.
        var qkv = qkv_proj.call(x).view(b, t, 3, nHeads, c / nHeads).permute(2, 0, 3, 1, 4);
        var y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], p: training ? dropoutP : 0.0);
        y = y.transpose(1, 2).reshape(b, t, c);
        return resid_dropout.call(out_proj.call(y)).MoveToOuterDisposeScope();
    }
}

public sealed class ViTMLP : Module<Tensor, Tensor>
{
    readonly Linear fc1, fc2;
    readonly Dropout dropout;

    public ViTMLP(VlmConfig cfg) : base(nameof(ViTMLP))
    {
        fc1 = Linear(cfg.VitHiddenDim, cfg.VitInterDim);
        fc2 = Linear(cfg.VitInterDim, cfg.VitHiddenDim);
        dropout = Dropout(cfg.VitDropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return dropout.call(fc2.call(F.gelu(fc1.call(x), TorchSharp.Modules.GELU.Approximate.tanh))).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(x)).</summary>
public sealed class ViTBlock : Module<Tensor, Tensor>
{
    readonly LayerNorm ln1, ln2;
    readonly ViTMultiHeadAttention attn;
    readonly ViTMLP mlp;

    public ViTBlock(VlmConfig cfg) : base(nameof(ViTBlock))
    {
        ln1 = LayerNorm(cfg.VitHiddenDim, cfg.VitLnEps);
        attn = new ViTMultiHeadAttention(cfg);
        ln2 = LayerNorm(cfg.VitHiddenDim, cfg.VitLnEps);
        mlp = new ViTMLP(cfg);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + attn.call(ln1.call(x));
        x = x + mlp.call(ln2.call(x));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Images [B, 3, S, S] in [0, 1] -> patch features [B, (S/patch)^2, vit_hidden_dim].</summary>
public sealed class ViT : Module<Tensor, Tensor>
{
    readonly ViTPatchEmbeddings patch_embedding;
    readonly Dropout dropout;
    readonly ModuleList<ViTBlock> blocks;
    readonly LayerNorm layer_norm;

    public ViT(VlmConfig cfg) : base(nameof(ViT))
    {
        patch_embedding = new ViTPatchEmbeddings(cfg);
        dropout = Dropout(cfg.VitDropout);
        blocks = new ModuleList<ViTBlock>(Enumerable.Range(0, cfg.VitNBlocks).Select(_ => new ViTBlock(cfg)).ToArray());
        layer_norm = LayerNorm(cfg.VitHiddenDim, cfg.VitLnEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = dropout.call(patch_embedding.call(images));
        foreach (var block in blocks) x = block.call(x);
        return layer_norm.call(x).MoveToOuterDisposeScope();
    }
}
