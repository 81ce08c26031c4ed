using static TorchSharp.torch;

namespace NanoVlm.Kernels;

/// <summary>
/// The decoder's element-wise steps for a decode step's few rows, computed in C# over the tensors' memory. libtorch spends
/// 1-3 µs per op on dispatch, and RMSNorm or RoPE are five or six ops each on a few hundred numbers. Same math as the modules
/// (in fp32, rounded once at the end in bf16); null when the inputs are not the small contiguous CPU case, so the caller uses libtorch.
/// </summary>
public static unsafe class RowKernels
{
    /// <summary>Elements up to which a tensor counts as a decode step's few rows.</summary>
    const long MaxElements = MatVecLinear.MaxRows * 4096;

    /// <summary>x · rsqrt(mean(x²) + eps) · weight over the last dimension.</summary>
    public static Tensor? RmsNorm(Tensor x, Tensor weight, double eps)
    {
        if (!Applies(x) || !Applies(weight) || weight.dtype != x.dtype || weight.numel() != x.size(-1)) return null;
        var y = empty_like(x);
        var (dim, rows, bf16) = ((int)x.size(-1), (int)(x.numel() / x.size(-1)), x.dtype == bfloat16);
        void* xp = (void*)MatVecLinear.Data(x), wp = (void*)MatVecLinear.Data(weight), yp = (void*)MatVecLinear.Data(y);
        for (var r = 0; r < rows; r++)
        {
            var offset = r * dim;
            var squares = 0f;
            for (var i = 0; i < dim; i++)
            {
                var v = Load(xp, offset + i, bf16);
                squares += v * v;
            }
            var scale = 1f / MathF.Sqrt(squares / dim + (float)eps);
            for (var i = 0; i < dim; i++) Store(yp, offset + i, Load(xp, offset + i, bf16) * scale * Load(wp, i, bf16), bf16);
        }
        return y;
    }

    /// <summary>RoPE: x · cos + rotate_half(x) · sin for x [B, H, T, D] and cos, sin [B, 1, T, D].</summary>
    public static Tensor? Rotary(Tensor x, Tensor cos, Tensor sin)
    {
        if (!Applies(x) || !Applies(cos) || !Applies(sin) || x.dim() != 4 || cos.dtype != x.dtype || sin.dtype != x.dtype
            || !cos.shape.SequenceEqual([x.size(0), 1, x.size(2), x.size(3)]) || !sin.shape.SequenceEqual(cos.shape)) return null;
        var y = empty_like(x);
        var (b, h, t, d, bf16) = ((int)x.size(0), (int)x.size(1), (int)x.size(2), (int)x.size(3), x.dtype == bfloat16);
        void* xp = (void*)MatVecLinear.Data(x), cp = (void*)MatVecLinear.Data(cos), sp = (void*)MatVecLinear.Data(sin), yp = (void*)MatVecLinear.Data(y);
        var half = d / 2;
        for (var bi = 0; bi < b; bi++)
            for (var hi = 0; hi < h; hi++)
                for (var ti = 0; ti < t; ti++)
                {
                    var (row, table) = (((bi * h + hi) * t + ti) * d, (bi * t + ti) * d);
                    for (var i = 0; i < d; i++)
                    {
                        var rotated = i < half ? -Load(xp, row + i + half, bf16) : Load(xp, row + i - half, bf16);
                        Store(yp, row + i, Load(xp, row + i, bf16) * Load(cp, table + i, bf16) + rotated * Load(sp, table + i, bf16), bf16);
                    }
                }
        return y;
    }

    static bool Applies(Tensor t) =>
        MatVecLinear.Enabled && !is_grad_enabled() && t.device_type == TorchSharp.DeviceType.CPU
        && (t.dtype == float32 || t.dtype == bfloat16) && t.is_contiguous() && t.numel() <= MaxElements;

    static float Load(void* p, int i, bool bf16) => bf16 ? BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[i] << 16) : ((float*)p)[i];

    static void Store(void* p, int i, float value, bool bf16)
    {
        if (bf16) StreamingMatVec.Narrow(&value, (ushort*)p + i, 1);
        else ((float*)p)[i] = value;
    }
}
