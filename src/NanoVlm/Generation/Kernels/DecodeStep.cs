using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Generation.Kernels;

/// <summary>
/// A whole decode step of the decoder — a few rows of one token each, or a few new positions of one prompt (the rest of a
/// conversation after its cached prefix), with a KV cache — in C# over the tensors' memory: RMSNorm, the projections through
/// <see cref="StreamingMatVec"/>, RoPE, the cache write, causal grouped-query attention, SwiGLU and the residuals, with no libtorch
/// op in between (a block took about 40 of them, 1-3 µs each, around 2 ms a token). The modules in Models/ stay the reference and
/// tests hold this equal to them; activations are rounded to the model's dtype where the modules store a tensor. Null where it does
/// not apply: the caller then runs the modules.
/// </summary>
internal static unsafe class DecodeStep
{
    /// <summary>
    /// Several new positions are taken while their attention is small (rows × new positions × slots up to this): it computes a dot product
    /// per query and slot, where libtorch's attention is blocked. 16 new positions of the 194M's decoder after 100 cached ones ran
    /// as fast as the modules or faster, after 300 as fast, after 600 1.4x and after 2,000 2x slower; a decode step (one position)
    /// is always taken.
    /// </summary>
    public const int MaxNewPositionsTimesSlots = 16 * 256;

    public static Tensor? Run(DecoderWeights w, Tensor x, Tensor? attentionMask, KvCache cache)
    {
        var (nHeads, nKv, d) = (w.Heads, w.KvHeads, w.HeadDim);
        var (rows, t) = ((int)x.size(0), (int)x.size(1));
        if (!MatVecLinear.Applies(x, w.Blocks[0].Q) || !x.is_contiguous() || cache.Length + t > cache.Capacity
            || t > 1 && rows * t * (cache.Length + t) > MaxNewPositionsTimesSlots
            || !w.All().All(p => p.dtype == x.dtype && p.is_contiguous()) || cache.Layers != w.Blocks.Count || !Fits(cache, x, nKv, d)) return null;
        var (tokens, hidden, inter) = (rows * t, (int)x.size(2), (int)w.Blocks[0].Gate.size(0));
        var end = cache.Length + t;
        var keep = attentionMask?.narrow(1, 0, end).to(float32).contiguous().data<float>().ToArray();
        // A padded position among the new ones (left padding of a batch's prompts) is left to the modules, which define what it sees.
        if (keep is not null && Enumerable.Range(0, rows).Any(b => Enumerable.Range(end - t, t).Any(j => keep[b * end + j] == 0))) return null;

        var s = new State(x.dtype == bfloat16, tokens, MatVecLinear.Threads);
        var sizes = new[] { tokens * hidden, tokens * hidden, tokens * Math.Max(hidden, inter), tokens * nHeads * d, tokens * nKv * d, tokens * nKv * d,
            tokens * nHeads * d, tokens * inter, tokens * inter, tokens * nHeads * end };
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
                att = Take(sizes[6]), gate = Take(sizes[7]), up = Take(sizes[8]), scores = Take(sizes[9]);
            s.Load(x, h);
            var (cos, sin) = Rotary(w, cache, rows, t, d, s);
            for (var l = 0; l < w.Blocks.Count; l++)
            {
                var block = w.Blocks[l];
                s.RmsNorm(h, block.Norm1, block.Norm1Eps, a, hidden);
                s.Project(a, input, hidden, (block.Q, (nint)q, nHeads * d), (block.K, (nint)k, nKv * d),
                    (block.V, (nint)v, nKv * d));
                s.Rope(q, nHeads, d, cos, sin);
                s.Rope(k, nKv, d, cos, sin);
                var (keys, values) = cache.Layer(l);
                s.Attend(q, k, v, keys, values, keep, rows, t, nHeads, nKv, d, cache.Capacity, end, scores, att);
                s.Project(att, input, nHeads * d, (block.Out, (nint)a, hidden));
                s.AddInto(h, a, tokens * hidden);
                s.RmsNorm(h, block.Norm2, block.Norm2Eps, a, hidden);
                s.Project(a, input, hidden, (block.Gate, (nint)gate, inter), (block.Up, (nint)up, inter));
                s.SwiGlu(gate, up, tokens * inter);
                s.Project(gate, input, inter, (block.Down, (nint)a, hidden));
                s.AddInto(h, a, tokens * hidden);
            }
            cache.Advance(t);
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

    /// <summary>cos and sin [rows · t, d] of each new position of each row, as <see cref="RotaryEmbedding"/> computes them (dynamic scaling included).</summary>
    static (float[] Cos, float[] Sin) Rotary(DecoderWeights w, KvCache cache, int rows, int t, int d, State s)
    {
        var starts = cache.RowStarts?.data<long>().ToArray() ?? new long[rows];
        var positions = starts.SelectMany(start => Enumerable.Range(0, t).Select(j => cache.Length - start + j)).ToArray();
        var invFreq = w.InvFreq.to(float32).data<float>().ToArray();
        var maxSeq = positions.Max() + 1;
        if (maxSeq > w.OriginalMaxSeqLen)
            for (var i = 0; i < invFreq.Length; i++) invFreq[i] = (float)(invFreq[i] / ((double)maxSeq / w.OriginalMaxSeqLen));
        var (cos, sin) = (new float[positions.Length * d], new float[positions.Length * d]);
        for (var p = 0; p < positions.Length; p++)
            for (var i = 0; i < d; i++)
            {
                var angle = positions[p] * invFreq[i % (d / 2)];
                cos[p * d + i] = s.Round(MathF.Cos(angle) * (float)w.AttentionScaling);
                sin[p * d + i] = s.Round(MathF.Sin(angle) * (float)w.AttentionScaling);
            }
        return (cos, sin);
    }

    /// <summary>
    /// The step's settings and its element-wise pieces over its <paramref name="tokens"/> (rows · new positions). In bf16 every
    /// stored activation is rounded to bf16, as the modules' tensors are.
    /// </summary>
    sealed class State(bool bf16, int tokens, int threads)
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
            for (var r = 0; r < tokens; r++)
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
        /// y [tokens, n] = x [tokens, k] · Wᵀ for each (W, y, n), in one job of the streaming kernel; <paramref name="scratch"/> holds
        /// x in the bf16 kernel's layout.
        /// </summary>
        public void Project(float* x, float* scratch, int k, params (Tensor Weight, nint Output, int Rows)[] products)
        {
            if (bf16) StreamingMatVec.Deinterleave(x, scratch, tokens, k);
            StreamingMatVec.Multiply(products.Select(p => new StreamingMatVec.Product(MatVecLinear.Data(p.Weight), p.Output, p.Rows)).ToArray(),
                bf16 ? scratch : x, tokens, k, bf16, threads);
            if (!bf16) return;
            foreach (var (_, output, n) in products)
            {
                var y = (float*)output;
                var i = 0;
                for (; i + 8 <= tokens * n; i += 8) Round(Vector256.Load(y + i)).Store(y + i);
                for (; i < tokens * n; i++) y[i] = Round(y[i]);
            }
        }

        /// <summary>RoPE in place on x [tokens, heads, d]: x · cos + rotate_half(x) · sin.</summary>
        public void Rope(float* x, int heads, int d, float[] cos, float[] sin)
        {
            var half = d / 2;
            var rotated = stackalloc float[d];
            for (var b = 0; b < tokens; b++)
                for (var h = 0; h < heads; h++)
                {
                    var v = x + (b * heads + h) * d;
                    for (var i = 0; i < d; i++) rotated[i] = i < half ? -v[i + half] : v[i - half];
                    for (var i = 0; i < d; i++) v[i] = Round(Round(v[i] * cos[b * d + i]) + Round(rotated[i] * sin[b * d + i]));
                }
        }

        /// <summary>
        /// Writes the t new positions' k, v of each row into the cache at slots end - t .. end - 1, then for each row, new position
        /// and query head softmax(q·Kᵀ/√d, padded keys left out)·V over the slots up to the position's own, of its kv head (query heads
        /// g·groups .. g·groups + groups - 1 share kv head g). The (row, kv head, position) triples are shared out between the threads; each
        /// query has its own <paramref name="scores"/> [end]. Token (b, j) is row b·t + j of q, k, v and <paramref name="output"/>.
        /// </summary>
        public void Attend(float* q, float* k, float* v, Tensor keys, Tensor values, float[]? keep, int batch, int t, int heads, int kvHeads,
            int d, int capacity, int end, float* scores, float* output)
        {
            var groups = heads / kvHeads;
            void* kp = (void*)MatVecLinear.Data(keys), vp = (void*)MatVecLinear.Data(values);
            long Slots(int b, int g) => (long)(b * kvHeads + g) * capacity * d;
            for (var b = 0; b < batch; b++)
                for (var j = 0; j < t; j++)
                    for (var g = 0; g < kvHeads; g++)
                        for (var i = 0; i < d; i++)
                        {
                            var (slot, from) = (Slots(b, g) + (long)(end - t + j) * d + i, ((b * t + j) * kvHeads + g) * d + i);
                            Put(kp, slot, k[from]);
                            Put(vp, slot, v[from]);
                        }
            var scale = 1f / MathF.Sqrt(d);
            // One (row, kv head, new position) at a time: its keys and values are read once for the query heads that share them.
            void Group(int item)
            {
                var (b, g, j) = (item / (kvHeads * t), item / t % kvHeads, item % t);
                var (slots, seen, first) = (Slots(b, g), end - t + j + 1, (b * t + j) * heads + g * groups);
                float* score = scores + (long)first * end, into = output + (long)first * d;
                Scores(kp, slots, q + first * d, groups, seen, d, score, end, scale, keep, b * end);
                for (var h = 0; h < groups; h++)
                {
                    var row = score + (long)h * end;
                    var m = float.NegativeInfinity;
                    for (var slot = 0; slot < seen; slot++) m = MathF.Max(m, row[slot]);
                    var total = Exponentials(row, seen, m);
                    for (var slot = 0; slot < seen; slot++) row[slot] /= total;
                }
                WeightedSums(score, end, groups, seen, vp, slots, d, into);
                for (var i = 0; i < groups * d; i++) into[i] = Round(into[i]);
            }
            var (items, parts) = (batch * kvHeads * t, Math.Min(threads, batch * kvHeads * t));
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

        // The query heads of a kv head go through its keys and values together, 4 at a time: each row of K and V is read once for
        // them, and their sums stay in registers (a dot and an axpy per head and slot were 3x the loads and stores).

        /// <summary>
        /// scores[h · stride + s] = (q_h · K_s) · scale for the <paramref name="heads"/> query heads at <paramref name="q"/> [heads, d]
        /// and the slots s &lt; <paramref name="seen"/> of the keys at <paramref name="at"/>; −∞ where keep[keepAt + s] is 0.
        /// </summary>
        void Scores(void* keys, long at, float* q, int heads, int seen, int d, float* scores, int stride, float scale, float[]? keep, int keepAt)
        {
            for (var h0 = 0; h0 < heads; h0 += 4)
            {
                var n = Math.Min(4, heads - h0);
                float* q0 = q + h0 * d, q1 = q + (h0 + Math.Min(1, n - 1)) * d, q2 = q + (h0 + Math.Min(2, n - 1)) * d, q3 = q + (h0 + Math.Min(3, n - 1)) * d;
                for (var s = 0; s < seen; s++)
                {
                    var (s0, s1, s2, s3) = (float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity);
                    if (keep is null || keep[keepAt + s] != 0)
                    {
                        var row = at + (long)s * d;
                        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        var i = 0;
                        for (; i + 8 <= d; i += 8)
                        {
                            var k = Eight(keys, row + i);
                            a0 = Vector256.FusedMultiplyAdd(k, Vector256.Load(q0 + i), a0);
                            a1 = Vector256.FusedMultiplyAdd(k, Vector256.Load(q1 + i), a1);
                            a2 = Vector256.FusedMultiplyAdd(k, Vector256.Load(q2 + i), a2);
                            a3 = Vector256.FusedMultiplyAdd(k, Vector256.Load(q3 + i), a3);
                        }
                        (s0, s1, s2, s3) = (Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
                        for (; i < d; i++)
                        {
                            var k = Get(keys, row + i);
                            (s0, s1, s2, s3) = (MathF.FusedMultiplyAdd(k, q0[i], s0), MathF.FusedMultiplyAdd(k, q1[i], s1),
                                MathF.FusedMultiplyAdd(k, q2[i], s2), MathF.FusedMultiplyAdd(k, q3[i], s3));
                        }
                        (s0, s1, s2, s3) = (s0 * scale, s1 * scale, s2 * scale, s3 * scale);
                    }
                    var into = scores + (long)h0 * stride + s;
                    into[0] = s0;
                    if (n > 1) into[stride] = s1;
                    if (n > 2) into[2 * stride] = s2;
                    if (n > 3) into[3 * stride] = s3;
                }
            }
        }

        /// <summary>
        /// output[h · d + i] = Σ_s p[h · stride + s] · V_s[i] for the <paramref name="heads"/> heads and the slots s &lt;
        /// <paramref name="seen"/> of the values at <paramref name="at"/>, 16 columns at a time; a slot no head weighs is skipped.
        /// </summary>
        void WeightedSums(float* p, int stride, int heads, int seen, void* values, long at, int d, float* output)
        {
            for (var h0 = 0; h0 < heads; h0 += 4)
            {
                var n = Math.Min(4, heads - h0);
                float* p0 = p + (long)h0 * stride, p1 = p + (long)(h0 + Math.Min(1, n - 1)) * stride,
                    p2 = p + (long)(h0 + Math.Min(2, n - 1)) * stride, p3 = p + (long)(h0 + Math.Min(3, n - 1)) * stride;
                var i = 0;
                for (; i + 16 <= d; i += 16)
                {
                    Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
                    for (var s = 0; s < seen; s++)
                    {
                        if (p0[s] == 0 && p1[s] == 0 && p2[s] == 0 && p3[s] == 0) continue;
                        var row = at + (long)s * d + i;
                        var (lo, hi) = (Eight(values, row), Eight(values, row + 8));
                        var w = Vector256.Create(p0[s]);
                        (a0, b0) = (Vector256.FusedMultiplyAdd(lo, w, a0), Vector256.FusedMultiplyAdd(hi, w, b0));
                        w = Vector256.Create(p1[s]);
                        (a1, b1) = (Vector256.FusedMultiplyAdd(lo, w, a1), Vector256.FusedMultiplyAdd(hi, w, b1));
                        w = Vector256.Create(p2[s]);
                        (a2, b2) = (Vector256.FusedMultiplyAdd(lo, w, a2), Vector256.FusedMultiplyAdd(hi, w, b2));
                        w = Vector256.Create(p3[s]);
                        (a3, b3) = (Vector256.FusedMultiplyAdd(lo, w, a3), Vector256.FusedMultiplyAdd(hi, w, b3));
                    }
                    var into = output + (long)h0 * d + i;
                    a0.Store(into);
                    b0.Store(into + 8);
                    if (n > 1)
                    {
                        a1.Store(into + d);
                        b1.Store(into + d + 8);
                    }
                    if (n > 2)
                    {
                        a2.Store(into + 2 * d);
                        b2.Store(into + 2 * d + 8);
                    }
                    if (n > 3)
                    {
                        a3.Store(into + 3 * d);
                        b3.Store(into + 3 * d + 8);
                    }
                }
                for (; i < d; i++)
                    for (var h = 0; h < n; h++)
                    {
                        var weights = p + (long)(h0 + h) * stride;
                        var total = 0f;
                        for (var s = 0; s < seen; s++)
                            if (weights[s] != 0) total = MathF.FusedMultiplyAdd(Get(values, at + (long)s * d + i), weights[s], total);
                        output[(long)(h0 + h) * d + i] = total;
                    }
            }
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
