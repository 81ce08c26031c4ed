using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NanoVlm.Generation.Kernels;

/// <summary>
/// y[b, n] = Σ_k x[b, k] · W[n, k] for a handful of rows x: the decoder's linears while decoding. With one or a few tokens
/// per step a linear is a matrix-vector product whose cost is reading W once, so the rows of W are split between threads and
/// each thread streams its share straight through, every weight row used for all of x's rows while it is in L1.
/// W is fp32 or bf16; sums are in fp32. Vector256 is hardware-accelerated on AVX2 and emulated with 128-bit vectors elsewhere.
/// </summary>
public static unsafe class StreamingMatVec
{
    /// <summary>Weight rows per unit of work: enough to amortise a dispatch, few enough to balance the threads.</summary>
    const int RowsPerChunk = 16;

    /// <summary>
    /// Bytes ahead of the reads that are prefetched: a block's matrices are 0.2-3.5 MB, too short for the hardware prefetcher
    /// to reach full distance on its own (+10-15 % on them in bf16). Prefetching past the end of W is harmless: it never faults.
    /// </summary>
    const int Ahead = 4096;

    /// <summary>Elements per step of the bf16 kernel: 8 bf16 pairs, read as 8 uint32.</summary>
    public const int Bf16Step = 16;

    /// <summary>W [N, K] fp32, x [B, K] fp32 → y [B, N] fp32.</summary>
    public static void Multiply(float* w, float* x, float* y, int batch, int k, int n, int threads) =>
        Multiply([new Product((nint)w, (nint)y, n)], x, batch, k, bf16: false, threads);

    /// <summary>W [N, K] bf16 (raw bits), x [B, K] fp32 in <see cref="Deinterleave"/>'s layout → y [B, N] fp32.</summary>
    public static void Multiply(ushort* w, float* x, float* y, int batch, int k, int n, int threads) =>
        Multiply([new Product((nint)w, (nint)y, n)], x, batch, k, bf16: true, threads);

    /// <summary>One W [N, K] (fp32, or bf16 as raw bits) and where its y [B, N] fp32 goes.</summary>
    public readonly record struct Product(nint Weights, nint Output, int Rows);

    /// <summary>
    /// Several products of the same x in one job (q, k and v; gate and up): their rows are shared out between the threads as if
    /// the matrices were stacked, so they cost one dispatch and stay balanced where a matrix alone has few rows.
    /// </summary>
    public static void Multiply(Product[] products, float* x, int batch, int k, bool bf16, int threads)
    {
        var total = products.Sum(p => p.Rows);
        Split(total, threads, (from, to) =>
        {
            var offset = 0;
            foreach (var p in products)
            {
                var (start, end) = (Math.Max(from, offset) - offset, Math.Min(to, offset + p.Rows) - offset);
                if (start < end && bf16) RowsBf16((ushort*)p.Weights, x, (float*)p.Output, batch, k, p.Rows, start, end);
                else if (start < end) RowsF32((float*)p.Weights, x, (float*)p.Output, batch, k, p.Rows, start, end);
                offset += p.Rows;
            }
        });
    }

    /// <summary>Contiguous row ranges, one per thread: each thread streams one region of W, which the prefetcher follows best.</summary>
    static void Split(int n, int threads, Action<int, int> rows)
    {
        var chunks = (n + RowsPerChunk - 1) / RowsPerChunk;
        var parts = Math.Min(threads, chunks);
        if (parts <= 1) rows(0, n);
        else SpinningWorkers.Run(parts, p => rows(chunks * p / parts * RowsPerChunk, Math.Min(n, chunks * (p + 1) / parts * RowsPerChunk)));
    }

    // No calls inside the vector loops: around a call the JIT spills the accumulators to the stack on every step.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowsF32(float* w, float* x, float* y, int batch, int k, int n, int from, int to)
    {
        // 4 rows of W against up to 4 of x at once, up to 16 sums in registers, so that each load feeds up to 2 FMAs (a dot per
        // pair is load-bound: at 13 rows of x it was 2-5x slower than libtorch). The blocks of x are balanced (13 rows: 4 + 3 +
        // 3 + 3); the 4 rows of W stay in cache from the first block to the last, and the next 4 are prefetched into L2
        // meanwhile: read 4 at a time, the hardware prefetcher alone left the cores waiting. Every (row of W, row of x) is summed
        // the same way whatever the batch, so a row's result does not depend on the rows beside it (seeded sampling under load).
        var sums = stackalloc float[Tile * Tile];
        var blocks = (batch + Tile - 1) / Tile;
        for (var r = from; r < to; r += Tile)
        {
            var rows = Math.Min(Tile, to - r);
            for (var block = 0; block < blocks; block++)
            {
                var (first, end) = (batch * block / blocks, batch * (block + 1) / blocks);
                var ahead = r + Tile < to ? w + (long)(r + Tile) * k + (long)Tile * k * block / blocks : null;
                if (Vector512.IsHardwareAccelerated) TileRows<Lanes512, Vector512<float>>(w + (long)r * k, rows, x + (long)first * k, end - first, k, sums, ahead, blocks);
                else TileRows<Lanes256, Vector256<float>>(w + (long)r * k, rows, x + (long)first * k, end - first, k, sums, ahead, blocks);
                for (var i = 0; i < rows; i++)
                    for (var j = 0; j < end - first; j++)
                        y[(long)(first + j) * n + r + i] = sums[i * Tile + j];
            }
        }
    }

    const int Tile = 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TileRows<TLanes, TVector>(float* w, int wRows, float* x, int xRows, int k, float* sums, float* ahead, int blocks)
        where TLanes : struct, IFloatLanes<TVector> where TVector : unmanaged
    {
        switch (xRows)
        {
            case 1: Tile4<TLanes, TVector, One>(w, wRows, x, k, sums, ahead, blocks); break;
            case 2: Tile4<TLanes, TVector, Two>(w, wRows, x, k, sums, ahead, blocks); break;
            case 3: Tile4<TLanes, TVector, Three>(w, wRows, x, k, sums, ahead, blocks); break;
            default: Tile4<TLanes, TVector, Four>(w, wRows, x, k, sums, ahead, blocks); break;
        }
    }

    /// <summary>How many rows of x a tile takes: a type argument, so that each count is compiled with only its own sums.</summary>
    interface IRows
    {
        static abstract int Count { get; }
    }

    readonly struct One : IRows { public static int Count => 1; }
    readonly struct Two : IRows { public static int Count => 2; }
    readonly struct Three : IRows { public static int Count => 3; }
    readonly struct Four : IRows { public static int Count => 4; }

    /// <summary>
    /// sums[i·4 + j] = W row i · x row j for i &lt; <paramref name="wRows"/> (at most 4; the missing rows repeat the last one,
    /// computed and not used) and j &lt; TRows.Count. Prefetches this call's share (1 / <paramref name="blocks"/>) of the 4 rows at
    /// <paramref name="ahead"/> into L2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4<TLanes, TVector, TRows>(float* w, int wRows, float* x, int k, float* sums, float* ahead, int blocks)
        where TLanes : struct, IFloatLanes<TVector> where TVector : unmanaged where TRows : struct, IRows
    {
        float* w0 = w, w1 = w + (long)Math.Min(1, wRows - 1) * k, w2 = w + (long)Math.Min(2, wRows - 1) * k, w3 = w + (long)Math.Min(3, wRows - 1) * k;
        float* x0 = x, x1 = x + k, x2 = x + 2L * k, x3 = x + 3L * k;
        TVector a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default,
            a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        var vk = k - k % TLanes.Count;
        var i = 0;
        for (; i < vk; i += TLanes.Count)
        {
            if (Sse.IsSupported && ahead != null && (i & 15) == 0)
                for (var line = 0; line < Tile * 16; line += 16 * blocks) Sse.Prefetch1(ahead + Tile * i / blocks + line / blocks);
            var (v0, v1, v2, v3) = (TLanes.Load(w0 + i), TLanes.Load(w1 + i), TLanes.Load(w2 + i), TLanes.Load(w3 + i));
            var u = TLanes.Load(x0 + i);
            a00 = TLanes.FusedMultiplyAdd(v0, u, a00);
            a10 = TLanes.FusedMultiplyAdd(v1, u, a10);
            a20 = TLanes.FusedMultiplyAdd(v2, u, a20);
            a30 = TLanes.FusedMultiplyAdd(v3, u, a30);
            if (TRows.Count > 1)
            {
                u = TLanes.Load(x1 + i);
                a01 = TLanes.FusedMultiplyAdd(v0, u, a01);
                a11 = TLanes.FusedMultiplyAdd(v1, u, a11);
                a21 = TLanes.FusedMultiplyAdd(v2, u, a21);
                a31 = TLanes.FusedMultiplyAdd(v3, u, a31);
            }
            if (TRows.Count > 2)
            {
                u = TLanes.Load(x2 + i);
                a02 = TLanes.FusedMultiplyAdd(v0, u, a02);
                a12 = TLanes.FusedMultiplyAdd(v1, u, a12);
                a22 = TLanes.FusedMultiplyAdd(v2, u, a22);
                a32 = TLanes.FusedMultiplyAdd(v3, u, a32);
            }
            if (TRows.Count > 3)
            {
                u = TLanes.Load(x3 + i);
                a03 = TLanes.FusedMultiplyAdd(v0, u, a03);
                a13 = TLanes.FusedMultiplyAdd(v1, u, a13);
                a23 = TLanes.FusedMultiplyAdd(v2, u, a23);
                a33 = TLanes.FusedMultiplyAdd(v3, u, a33);
            }
        }
        sums[0] = TLanes.Sum(a00); sums[4] = TLanes.Sum(a10); sums[8] = TLanes.Sum(a20); sums[12] = TLanes.Sum(a30);
        if (TRows.Count > 1) (sums[1], sums[5], sums[9], sums[13]) = (TLanes.Sum(a01), TLanes.Sum(a11), TLanes.Sum(a21), TLanes.Sum(a31));
        if (TRows.Count > 2) (sums[2], sums[6], sums[10], sums[14]) = (TLanes.Sum(a02), TLanes.Sum(a12), TLanes.Sum(a22), TLanes.Sum(a32));
        if (TRows.Count > 3) (sums[3], sums[7], sums[11], sums[15]) = (TLanes.Sum(a03), TLanes.Sum(a13), TLanes.Sum(a23), TLanes.Sum(a33));
        for (; i < k; i++)
            for (var a = 0; a < Tile; a++)
                for (var b = 0; b < TRows.Count; b++)
                    sums[a * Tile + b] = MathF.FusedMultiplyAdd(w[(long)Math.Min(a, wRows - 1) * k + i], x[(long)b * k + i], sums[a * Tile + b]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowsBf16(ushort* w, float* x, float* y, int batch, int k, int n, int from, int to)
    {
        for (var r = from; r < to; r++)
            for (var b = 0; b < batch; b++)
                y[(long)b * n + r] = Dot(w + (long)r * k, x + (long)b * k, k);
    }

    /// <remarks>
    /// A bf16 pair read as one uint32 holds its even element in the low half and its odd one in the high half, so
    /// <c>u &lt;&lt; 16</c> and <c>u &amp; 0xFFFF0000</c> are the two as floats, with no shuffle; x comes de-interleaved to match.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static float Dot(ushort* w, float* x, int k)
    {
        var (wide, vk) = (k - k % (2 * Bf16Step), k - k % Bf16Step);
        var high = Vector256.Create(0xFFFF0000u);
        var u = (uint*)w;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var i = 0;
        for (; i < wide; i += 2 * Bf16Step)
        {
            if (Sse.IsSupported) Sse.Prefetch0((byte*)(u + i / 2) + Ahead);
            var (p0, p1) = (Vector256.Load(u + i / 2), Vector256.Load(u + i / 2 + 8));
            a0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(p0, 16).AsSingle(), Vector256.Load(x + i), a0);
            a1 = Vector256.FusedMultiplyAdd((p0 & high).AsSingle(), Vector256.Load(x + i + 8), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(p1, 16).AsSingle(), Vector256.Load(x + i + 16), a2);
            a3 = Vector256.FusedMultiplyAdd((p1 & high).AsSingle(), Vector256.Load(x + i + 24), a3);
        }
        for (; i < vk; i += Bf16Step)
        {
            var p = Vector256.Load(u + i / 2);
            a0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(p, 16).AsSingle(), Vector256.Load(x + i), a0);
            a1 = Vector256.FusedMultiplyAdd((p & high).AsSingle(), Vector256.Load(x + i + 8), a1);
        }
        var s = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < k; i++) s = MathF.FusedMultiplyAdd(ToSingle(w[i]), x[i], s);
        return s;
    }

    /// <summary>bf16 x [B, K] → fp32 in the bf16 kernel's layout: each whole block of 16 as its 8 even then its 8 odd elements, the tail as is.</summary>
    public static void WidenDeinterleaved(ushort* x, float* into, int batch, int k) => Deinterleave(i => ToSingle(x[i]), into, batch, k);

    /// <summary>fp32 x [B, K] → the bf16 kernel's layout (see <see cref="WidenDeinterleaved"/>).</summary>
    public static void Deinterleave(float* x, float* into, int batch, int k) => Deinterleave(i => x[i], into, batch, k);

    static void Deinterleave(Func<long, float> x, float* into, int batch, int k)
    {
        var vk = k - k % Bf16Step;
        for (var b = 0; b < batch; b++)
        {
            var from = (long)b * k;
            var to = into + from;
            for (var i = 0; i < vk; i += Bf16Step)
                for (var j = 0; j < Bf16Step / 2; j++)
                {
                    to[i + j] = x(from + i + 2 * j);
                    to[i + Bf16Step / 2 + j] = x(from + i + 2 * j + 1);
                }
            for (var i = vk; i < k; i++) to[i] = x(from + i);
        }
    }

    /// <summary>fp32 → bf16, rounding to nearest even as libtorch does (NaN stays a quiet NaN).</summary>
    public static void Narrow(float* y, ushort* into, int count)
    {
        var i = 0;
        for (; i + 16 <= count; i += 16)
        {
            var (a, b) = (RoundToBf16(Vector256.Load(y + i)).AsUInt32(), RoundToBf16(Vector256.Load(y + i + 8)).AsUInt32());
            Vector256.Narrow(Vector256.ShiftRightLogical(a, 16), Vector256.ShiftRightLogical(b, 16)).Store(into + i);
        }
        for (; i < count; i++) into[i] = (ushort)(BitConverter.SingleToUInt32Bits(RoundToBf16(y[i])) >> 16);
    }

    /// <summary>The fp32 nearest to v that is a bf16 (its low 16 bits zero), ties to even; a NaN becomes a quiet NaN.</summary>
    public static float RoundToBf16(float v)
    {
        var bits = BitConverter.SingleToUInt32Bits(v);
        return BitConverter.UInt32BitsToSingle(float.IsNaN(v) ? (bits | 0x00400000) & 0xFFFF0000 : (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000);
    }

    /// <inheritdoc cref="RoundToBf16(float)"/>
    public static Vector256<float> RoundToBf16(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var high = Vector256.Create(0xFFFF0000u);
        var rounded = (bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256<uint>.One)) & high;
        var quietNaN = (bits | Vector256.Create(0x00400000u)) & high;
        return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, quietNaN).AsSingle();
    }

    static float ToSingle(ushort bf16) => BitConverter.UInt32BitsToSingle((uint)bf16 << 16);
}
