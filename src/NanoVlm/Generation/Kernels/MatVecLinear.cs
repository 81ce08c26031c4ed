using System.Buffers;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Generation.Kernels;

/// <summary>
/// A bias-free linear layer (the head) through <see cref="StreamingMatVec"/> when that pays — inference on the CPU with at most
/// <see cref="MaxRows"/> input rows (<see cref="MaxBf16Rows"/> in bf16) and fp32 or bf16 weights — and through libtorch
/// otherwise; the thread hand-over for decode loops; and the tensors' memory for the kernels.
/// </summary>
public static partial class MatVecLinear
{
    /// <summary>
    /// Rows up to which streaming W once beats libtorch (fp32: a whole forward over 16 positions with a cache; more rows of x make
    /// the kernel compute-bound, where libtorch's blocked products win). In bf16 the widening costs compute per row of x, and
    /// libtorch's AVX512-BF16 kernels, which .NET cannot reach, catch up: at 4 rows a decode step here is still 1.4× libtorch's
    /// (a lone linear only as fast), at 8 rows about the same.
    /// </summary>
    public const int MaxRows = 16, MaxBf16Rows = 4;

    // Per thread, like libtorch's (OpenMP's) thread count that the scope lowers: the thread that decodes is the one that gets the cores.
    [ThreadStatic]
    static int decodingThreads;

    /// <summary>The threads the kernel uses on this thread: all of libtorch's inside <see cref="Decoding"/>, else this thread only.</summary>
    public static int Threads => Math.Max(1, decodingThreads);

    /// <summary>
    /// For a decode loop of <paramref name="rows"/> tokens per step: libtorch runs single-threaded and the kernel gets every
    /// thread libtorch had. Both at once would fight: libtorch's OpenMP workers spin after each parallel op, on the cores the
    /// kernel's helpers need. Outside such a scope the kernel runs on the calling thread only. A no-op where the kernel does not
    /// apply (GPU, more rows, other dtypes), so that libtorch keeps its threads there.
    /// </summary>
    public static DecodingScope Decoding(long rows, ScalarType dtype, Device device) =>
        new(device.type == DeviceType.CPU && rows <= MaxRowsOf(dtype) ? get_num_threads() : 0);

    static long MaxRowsOf(ScalarType dtype) => dtype == bfloat16 ? MaxBf16Rows : dtype == float32 ? MaxRows : 0;

    public readonly struct DecodingScope : IDisposable
    {
        readonly int threads;

        internal DecodingScope(int threads)
        {
            this.threads = threads;
            if (threads <= 1) return;
            set_num_threads(1);
            decodingThreads = threads;
        }

        public void Dispose()
        {
            if (threads <= 1) return;
            decodingThreads = 0;
            set_num_threads(threads);
        }
    }

    /// <summary>x W^T (a bias-free linear, the head) through the kernel where it applies, else libtorch's linear.</summary>
    public static Tensor Forward(Tensor w, Tensor x)
    {
        if (!Applies(x, w)) return nn.functional.linear(x, w);
        var (n, k) = ((int)w.size(0), (int)w.size(1));
        var rows = (int)(x.numel() / k);
        var shape = x.shape;
        shape[^1] = n;
        var threads = Threads;
        using var input = x.contiguous();
        var y = empty(shape, x.dtype);
        unsafe
        {
            if (w.dtype == float32)
            {
                StreamingMatVec.Multiply((float*)Data(w), (float*)Data(input), (float*)Data(y), rows, k, n, threads);
                return y;
            }
            var buffer = ArrayPool<float>.Shared.Rent(rows * (k + n));
            try
            {
                fixed (float* xs = buffer)
                {
                    var ys = xs + rows * k;
                    StreamingMatVec.WidenDeinterleaved((ushort*)Data(input), xs, rows, k);
                    StreamingMatVec.Multiply((ushort*)Data(w), xs, ys, rows, k, n, threads);
                    StreamingMatVec.Narrow(ys, (ushort*)Data(y), rows * n);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
            return y;
        }
    }

    internal static bool Applies(Tensor x, Tensor w) =>
        !is_grad_enabled() && x.device_type == DeviceType.CPU && w.device_type == DeviceType.CPU
        && x.dtype == w.dtype && w.dim() == 2 && w.is_contiguous()
        && x.size(-1) == w.size(1) && x.numel() <= MaxRowsOf(w.dtype) * w.size(1);

    internal static IntPtr Data(Tensor t) => TensorMemory.Pointer(t);
}
