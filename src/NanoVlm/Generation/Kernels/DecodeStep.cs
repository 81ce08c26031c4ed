using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Generation.Kernels;

/// <summary>
/// A whole decode step of the decoder — a few rows of one token each, with a KV cache — in C# over the tensors' memory:
/// RMSNorm, the projections through <see cref="StreamingMatVec"/>, RoPE, the cache write, grouped-query attention, SwiGLU
/// and the residuals, with no libtorch op in between (a block took about 40 of them, 1-3 µs each, around 2 ms a token).
/// The modules in Models/ stay the reference and tests hold this equal to them; activations are rounded to the model's
/// dtype where the modules store a tensor. Null where it does not apply: the caller then runs the modules.
/// </summary>
internal static unsafe class DecodeStep
{
    public static Tensor? Run(DecoderWeights w, Tensor x, Tensor? attentionMask, KvCache cache)
    {
        var (nHeads, nKv, d) = (w.Heads, w.KvHeads, w.HeadDim);
        if (!MatVecLinear.Applies(x, w.Blocks[0].Q) || !x.is_contiguous() || cache.Length + 1 > cache.Capacity
            || !w.All().All(t => t.dtype == x.dtype && t.is_contiguous()) || cache.Layers != w.Blocks.Count || !Fits(cache, x, nKv, d)) return null;
        var (rows, hidden, inter) = ((int)x.size(0), (int)x.size(2), (int)w.Blocks[0].Gate.size(0));
        var end = cache.Length + 1;
        var keep = attentionMask?.narrow(1, 0, end).to(float32).contiguous().data<float>().ToArray();
        if (keep is not null && Enumerable.Range(0, rows).Any(b => keep[b * end + end - 1] == 0)) return null;

        var s = new State(x.dtype == bfloat16, rows, MatVecLinear.Threads);
        var sizes = new[] { rows * hidden, rows * hidden, rows * Math.Max(hidden, inter), rows * nHeads * d, rows * nKv * d, rows * nKv * d,
            rows * nHeads * d, rows * inter, rows * inter, rows * nHeads * end, rows * nHeads * d };
        var memory = (float*)NativeMemory.Alloc((nuint)sizes.Sum(), sizeof(float));
        try
        {
            var next = memory;
            float* Take(int size)
            {
                var taken = next;
                next += size;
                return taken;
            }
            float* h = Take(sizes[0]), a = Take(sizes[1]), input = Take(sizes[2]), q = Take(sizes[3]), k = Take(sizes[4]), v = Take(sizes[5]),
                att = Take(sizes[6]), gate = Take(sizes[7]), up = Take(sizes[8]), scores = Take(sizes[9]), sums = Take(sizes[10]);
            s.Load(x, h);
            var (cos, sin) = Rotary(w, cache, rows, d, s);
            for (var l = 0; l < w.Blocks.Count; l++)
            {
                var block = w.Blocks[l];
                s.RmsNorm(h, block.Norm1, block.Norm1Eps, a, hidden);
                s.Project(a, input, hidden, (block.Q, (nint)q, nHeads * d), (block.K, (nint)k, nKv * d),
                    (block.V, (nint)v, nKv * d));
                s.Rope(q, nHeads, d, cos, sin);
                s.Rope(k, nKv, d, cos, sin);
                var (keys, values) = cache.Layer(l);
                s.Attend(q, k, v, keys, values, keep, nHeads, nKv, d, cache.Capacity, end, scores, sums, att);
                s.Project(att, input, nHeads * d, (block.Out, (nint)a, hidden));
                s.AddInto(h, a, rows * hidden);
                s.RmsNorm(h, block.Norm2, block.Norm2Eps, a, hidden);
                s.Project(a, input, hidden, (block.Gate, (nint)gate, inter), (block.Up, (nint)up, inter));
                s.SwiGlu(gate, up, rows * inter);
                s.Project(gate, input, inter, (block.Down, (nint)a, hidden));
                s.AddInto(h, a, rows * hidden);
            }
            cache.Advance(1);
            var y = empty_like(x);
            s.RmsNorm(h, w.Norm, w.NormEps, a, hidden);
            s.Store(a, y);
            return y;
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    /// <summary>Every layer's cache is [rows, kv heads, capacity, d] in x's dtype, contiguous: what the raw writes and reads assume.</summary>
    static bool Fits(KvCache cache, Tensor x, int kvHeads, int d) =>
        Enumerable.Range(0, cache.Layers).All(l =>
        {
            var (keys, values) = cache.Layer(l);
            long[] shape = [x.size(0), kvHeads, cache.Capacity, d];
            return keys.dtype == x.dtype && values.dtype == x.dtype && keys.is_contiguous() && values.is_contiguous()
                && keys.shape.SequenceEqual(shape) && values.shape.SequenceEqual(shape);
        });

    /// <summary>cos and sin [rows, d] of each row's position, as <see cref="RotaryEmbedding"/> computes them (dynamic scaling included).</summary>
    static (float[] Cos, float[] Sin) Rotary(DecoderWeights w, KvCache cache, int rows, int d, State s)
    {
        var starts = cache.RowStarts?.data<long>().ToArray() ?? new long[rows];
        var positions = starts.Select(start => cache.Length - start).ToArray();
        var invFreq = w.InvFreq.to(float32).data<float>().ToArray();
        var maxSeq = positions.Max() + 1;
        if (maxSeq > w.OriginalMaxSeqLen)
            for (var i = 0; i < invFreq.Length; i++) invFreq[i] = (float)(invFreq[i] / ((double)maxSeq / w.OriginalMaxSeqLen));
        var (cos, sin) = (new float[rows * d], new float[rows * d]);
        for (var b = 0; b < rows; b++)
            for (var i = 0; i < d; i++)
            {
                var angle = positions[b] * invFreq[i % (d / 2)];
                cos[b * d + i] = s.Round(MathF.Cos(angle) * (float)w.AttentionScaling);
                sin[b * d + i] = s.Round(MathF.Sin(angle) * (float)w.AttentionScaling);
            }
        return (cos, sin);
    }

    /// <summary>The step's settings and its element-wise pieces. In bf16 every stored activation is rounded to bf16, as the modules' tensors are.</summary>
    sealed class State(bool bf16, int rows, int threads)
    {
        public float Round(float v) => bf16 ? StreamingMatVec.RoundToBf16(v) : v;

        Vector256<float> Round(Vector256<float> v) => bf16 ? StreamingMatVec.RoundToBf16(v) : v;

        float Get(void* p, long i) => bf16 ? BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[i] << 16) : ((float*)p)[i];

        void Put(void* p, long i, float value)
        {
            if (bf16) StreamingMatVec.Narrow(&value, (ushort*)p + i, 1);
            else ((float*)p)[i] = value;
        }

        public void Load(Tensor x, float* into)
        {
            var (p, count) = ((nint)MatVecLinear.Data(x), x.numel());
            for (var i = 0; i < count; i++) into[i] = Get((void*)p, i);
        }

        public void Store(float* from, Tensor y)
        {
            var (p, count) = (MatVecLinear.Data(y), (int)y.numel());
            if (bf16) StreamingMatVec.Narrow(from, (ushort*)p, count);
            else Buffer.MemoryCopy(from, (void*)p, count * sizeof(float), count * sizeof(float));
        }

        public void RmsNorm(float* x, Tensor weight, double eps, float* y, int dim)
        {
            var w = (void*)MatVecLinear.Data(weight);
            for (var r = 0; r < rows; r++)
            {
                float* row = x + r * dim, outRow = y + r * dim;
                var (i, squares) = (0, Vector256<float>.Zero);
                for (; i + 8 <= dim; i += 8) squares = Vector256.FusedMultiplyAdd(Vector256.Load(row + i), Vector256.Load(row + i), squares);
                var sum = Vector256.Sum(squares);
                for (; i < dim; i++) sum += row[i] * row[i];
                var scale = 1f / MathF.Sqrt(sum / dim + (float)eps);
                for (i = 0; i + 8 <= dim; i += 8) Round(Vector256.Load(row + i) * scale * Eight(w, i)).Store(outRow + i);
                for (; i < dim; i++) outRow[i] = Round(row[i] * scale * Get(w, i));
            }
        }

        /// <summary>
        /// y [rows, n] = x [rows, k] · Wᵀ for each (W, y, n), in one job of the streaming kernel; <paramref name="scratch"/> holds
        /// x in the bf16 kernel's layout.
        /// </summary>
        public void Project(float* x, float* scratch, int k, params (Tensor Weight, nint Output, int Rows)[] products)
        {
            if (bf16) StreamingMatVec.Deinterleave(x, scratch, rows, k);
            StreamingMatVec.Multiply(products.Select(p => new StreamingMatVec.Product(MatVecLinear.Data(p.Weight), p.Output, p.Rows)).ToArray(),
                bf16 ? scratch : x, rows, k, bf16, threads);
            if (!bf16) return;
            foreach (var (_, output, n) in products)
            {
                var y = (float*)output;
                var i = 0;
                for (; i + 8 <= rows * n; i += 8) Round(Vector256.Load(y + i)).Store(y + i);
                for (; i < rows * n; i++) y[i] = Round(y[i]);
            }
        }

        /// <summary>RoPE in place on x [rows, heads, d]: x · cos + rotate_half(x) · sin.</summary>
        public void Rope(float* x, int heads, int d, float[] cos, float[] sin)
        {
            var half = d / 2;
            var rotated = stackalloc float[d];
            for (var b = 0; b < rows; b++)
                for (var h = 0; h < heads; h++)
                {
                    var v = x + (b * heads + h) * d;
                    for (var i = 0; i < d; i++) rotated[i] = i < half ? -v[i + half] : v[i - half];
                    for (var i = 0; i < d; i++) v[i] = Round(Round(v[i] * cos[b * d + i]) + Round(rotated[i] * sin[b * d + i]));
                }
        }

        /// <summary>
        /// Writes this step's k, v into the cache at slot end - 1, then for each row and query head softmax(q·Kᵀ/√d, padded keys
        /// left out)·V over slots 0..end-1 of its kv head (query heads g·groups .. g·groups + groups - 1 share kv head g).
        /// The (row, kv head) pairs are shared out between the threads; each query head has its own <paramref name="scores"/> [end] and
        /// <paramref name="sums"/> [d].
        /// </summary>
        public void Attend(float* q, float* k, float* v, Tensor keys, Tensor values, float[]? keep, int heads, int kvHeads, int d,
            int capacity, int end, float* scores, float* sums, float* output)
        {
            var groups = heads / kvHeads;
            void* kp = (void*)MatVecLinear.Data(keys), vp = (void*)MatVecLinear.Data(values);
            long Slots(int b, int g) => (long)(b * kvHeads + g) * capacity * d;
            for (var b = 0; b < rows; b++)
                for (var g = 0; g < kvHeads; g++)
                    for (var i = 0; i < d; i++)
                    {
                        Put(kp, Slots(b, g) + (long)(end - 1) * d + i, k[(b * kvHeads + g) * d + i]);
                        Put(vp, Slots(b, g) + (long)(end - 1) * d + i, v[(b * kvHeads + g) * d + i]);
                    }
            var scale = 1f / MathF.Sqrt(d);
            // One (row, kv head) at a time: its keys and values are read once for the query heads that share them.
            void Group(int item)
            {
                var (b, g) = (item / kvHeads, item % kvHeads);
                var slots = Slots(b, g);
                var first = b * heads + g * groups;
                float* score = scores + (long)first * end, sum = sums + (long)first * d;
                for (var j = 0; j < end; j++)
                {
                    var kept = keep is null || keep[b * end + j] != 0;
                    for (var h = 0; h < groups; h++)
                        score[h * end + j] = kept ? Dot(kp, slots + (long)j * d, q + (first + h) * d, d) * scale : float.NegativeInfinity;
                }
                for (var h = 0; h < groups; h++)
                {
                    var row = score + (long)h * end;
                    var m = float.NegativeInfinity;
                    for (var j = 0; j < end; j++) m = MathF.Max(m, row[j]);
                    var total = Exponentials(row, end, m);
                    for (var j = 0; j < end; j++) row[j] /= total;
                    for (var i = 0; i < d; i++) sum[h * d + i] = 0;
                }
                for (var j = 0; j < end; j++)
                    for (var h = 0; h < groups; h++)
                        if (score[h * end + j] != 0) Axpy(score[h * end + j], vp, slots + (long)j * d, sum + h * d, d);
                for (var i = 0; i < groups * d; i++) output[first * d + i] = Round(sum[i]);
            }
            var (items, parts) = (rows * kvHeads, Math.Min(threads, rows * kvHeads));
            if (parts <= 1)
                for (var item = 0; item < items; item++) Group(item);
            else
                SpinningWorkers.Run(parts, p =>
                {
                    for (var item = items * p / parts; item < items * (p + 1) / parts; item++) Group(item);
                });
        }

        /// <summary>x[j] = exp(x[j] - max) in place, eight at a time; returns their sum.</summary>
        static float Exponentials(float* x, int count, float max)
        {
            var (j, total) = (0, 0f);
            var m = Vector256.Create(max);
            for (; j + 8 <= count; j += 8)
            {
                var e = Vector256.Exp(Vector256.Load(x + j) - m);
                e.Store(x + j);
                total += Vector256.Sum(e);
            }
            for (; j < count; j++) total += x[j] = MathF.Exp(x[j] - max);
            return total;
        }

        float Dot(void* data, long at, float* x, int d)
        {
            var i = 0;
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= d; i += 8) acc = Vector256.FusedMultiplyAdd(Eight(data, at + i), Vector256.Load(x + i), acc);
            var s = Vector256.Sum(acc);
            for (; i < d; i++) s = MathF.FusedMultiplyAdd(Get(data, at + i), x[i], s);
            return s;
        }

        void Axpy(float a, void* data, long at, float* y, int d)
        {
            var i = 0;
            var av = Vector256.Create(a);
            for (; i + 8 <= d; i += 8) Vector256.FusedMultiplyAdd(Eight(data, at + i), av, Vector256.Load(y + i)).Store(y + i);
            for (; i < d; i++) y[i] = MathF.FusedMultiplyAdd(Get(data, at + i), a, y[i]);
        }

        /// <summary>8 consecutive elements as floats (bf16 widened: zero-extended and shifted into the high half).</summary>
        Vector256<float> Eight(void* data, long at)
        {
            if (!bf16) return Vector256.Load((float*)data + at);
            var (lower, upper) = Vector128.Widen(Vector128.Load((ushort*)data + at));
            return Vector256.ShiftLeft(Vector256.Create(lower, upper), 16).AsSingle();
        }

        public void AddInto(float* h, float* y, int count)
        {
            var i = 0;
            for (; i + 8 <= count; i += 8) Round(Vector256.Load(h + i) + Vector256.Load(y + i)).Store(h + i);
            for (; i < count; i++) h[i] = Round(h[i] + y[i]);
        }

        /// <summary>gate = silu(gate) · up, in place.</summary>
        public void SwiGlu(float* gate, float* up, int count)
        {
            var (i, one) = (0, Vector256<float>.One);
            for (; i + 8 <= count; i += 8)
            {
                var g = Vector256.Load(gate + i);
                Round(Round(g / (one + Vector256.Exp(-g))) * Vector256.Load(up + i)).Store(gate + i);
            }
            for (; i < count; i++) gate[i] = Round(Round(gate[i] / (1 + MathF.Exp(-gate[i]))) * up[i]);
        }
    }
}
