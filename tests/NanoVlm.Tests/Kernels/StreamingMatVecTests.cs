using NanoVlm.Generation;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using NanoVlm.Generation.Kernels;

namespace NanoVlm.Tests.Kernels;

/// <summary>The decode kernels against libtorch: every shape class (tails of the vector loops, one row, a few rows), both dtypes, 1 and 2 threads.</summary>
[Collection(nameof(RunsAlone))]
public class StreamingMatVecTests
{
    public static TheoryData<int, int, long[]> Shapes => new()
    {
        { 1, 1, [1, 1] }, { 5, 7, [1, 1] }, { 64, 576, [1, 1] }, { 33, 1536, [2, 1] }, { 100, 17, [3] }, { 19, 16, [8] },
        { 256, 40, [1, 2, 1] }, { 1000, 63, [4, 1] }, { 70, 33, [1, 5] }, { 37, 45, [13] }, { 6, 600, [1, 16] },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fp32EqualsLibtorch(int n, int k, long[] leading)
    {
        using var scope = NewDisposeScope();
        manual_seed(n * 31 + k);
        var layer = nn.Linear(k, n, hasBias: false);
        var x = randn([.. leading, k]);
        foreach (var threads in new[] { 1, 2 })
        {
            var (expected, actual) = Both(layer, x, threads);
            AssertClose(expected, actual, 1e-5, 1e-5 * Math.Sqrt(k), $"fp32 {n}x{k}, {threads} threads");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Bf16EqualsLibtorchWithinRounding(int n, int k, long[] leading)
    {
        using var scope = NewDisposeScope();
        manual_seed(n * 17 + k);
        var layer = nn.Linear(k, n, hasBias: false);
        layer.to(bfloat16);
        var x = randn([.. leading, k]).to(bfloat16);
        // The exact product of these bf16 values, then rounded once: the kernel may differ from it by an ulp of bf16 (2^-8 relative).
        var exact = F.linear(x.to(float32), layer.weight!.to(float32)).to(bfloat16).to(float32);
        foreach (var threads in new[] { 1, 2 })
        {
            var (expected, actual) = Both(layer, x, threads);
            Assert.Equal(bfloat16, actual.dtype);
            AssertClose(exact, actual.to(float32), 1.0 / 128, 1e-3, $"bf16 {n}x{k}, {threads} threads against the rounded exact product");
            AssertClose(expected.to(float32), actual.to(float32), 1.0 / 64, 1e-2, $"bf16 {n}x{k}, {threads} threads against libtorch");
        }
    }

    /// <summary>
    /// A row of x gets the same bits whatever rows are beside it (1 to 16, any place in the batch, 1 or 2 threads): a request's
    /// logits, and so its seeded tokens, do not depend on what else the server decodes.
    /// </summary>
    [Fact]
    public unsafe void ARowsResultDoesNotDependOnTheRowsBesideIt()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var (n, k) = (37, 45);
        var w = randn(n, k);
        var rows = randn(MatVecLinear.MaxRows, k);
        var alone = empty(1, n);
        StreamingMatVec.Multiply((float*)MatVecLinear.Data(w), (float*)MatVecLinear.Data(rows), (float*)MatVecLinear.Data(alone), 1, k, n, 1);
        foreach (var threads in new[] { 1, 2 })
            for (var batch = 1; batch <= MatVecLinear.MaxRows; batch++)
            {
                // Row 0 of `rows` put last among `batch` rows.
                var x = cat([rows.narrow(0, 1, batch - 1), rows.narrow(0, 0, 1)], 0).contiguous();
                var y = empty(batch, n);
                StreamingMatVec.Multiply((float*)MatVecLinear.Data(w), (float*)MatVecLinear.Data(x), (float*)MatVecLinear.Data(y), batch, k, n, threads);
                Assert.True(y[batch - 1].eq(alone[0]).all().item<bool>(), $"row alone and last of {batch} rows, {threads} threads differ");
            }
    }

    /// <summary>libtorch's result and the kernel's, the kernel run inside a decoding scope of <paramref name="threads"/> threads.</summary>
    static (Tensor Expected, Tensor Actual) Both(TorchSharp.Modules.Linear layer, Tensor x, int threads)
    {
        using var inference = inference_mode();
        var saved = get_num_threads();
        try
        {
            var expected = F.linear(x, layer.weight!);
            set_num_threads(threads);
            using var decoding = MatVecLinear.Decoding(x.numel() / x.size(-1), x.dtype, x.device);
            var rows = x.numel() / x.size(-1);
            var kernel = rows <= (x.dtype == bfloat16 ? MatVecLinear.MaxBf16Rows : MatVecLinear.MaxRows);
            Assert.Equal(kernel ? threads : 1, MatVecLinear.Threads);
            return (expected, MatVecLinear.Forward(layer.weight!, x));
        }
        finally
        {
            set_num_threads(saved);
        }
    }

    [Fact]
    public void GreedyDecodingGivesLibtorchsTokens()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 3);
        var (ids, mask, images) = TestModels.Batch(model, [1, 2], [6, 3]);
        var options = new GenerationOptions { MaxNewTokens = 12, Greedy = true, StopAtEos = false };
        var saved = get_num_threads();
        try
        {
            set_num_threads(2);
            var expected = model.Generate(ids, images, mask, options with { DecodePath = DecodePath.Modules });
            var actual = model.Generate(ids, images, mask, options with { DecodePath = DecodePath.Kernels });
            Assert.True(expected.eq(actual).all().item<bool>(), $"libtorch {expected.str()}, kernels {actual.str()}");
            Assert.Equal(2, get_num_threads());
        }
        finally
        {
            set_num_threads(saved);
        }
    }

    [Fact]
    public void DecodingHandsLibtorchsThreadsToTheKernelAndBack()
    {
        var saved = get_num_threads();
        try
        {
            set_num_threads(2);
            Assert.Equal(1, MatVecLinear.Threads);
            using (MatVecLinear.Decoding(MatVecLinear.MaxRows, float32, CPU))
            {
                Assert.Equal(1, get_num_threads());
                Assert.Equal(2, MatVecLinear.Threads);
            }
            Assert.Equal(2, get_num_threads());
            Assert.Equal(1, MatVecLinear.Threads);
            // Where the kernel does not apply, libtorch keeps its threads.
            foreach (var (rows, dtype) in new[] { (MatVecLinear.MaxRows + 1L, float32), (MatVecLinear.MaxBf16Rows + 1L, bfloat16), (1L, float64) })
                using (MatVecLinear.Decoding(rows, dtype, CPU))
                {
                    Assert.Equal(2, get_num_threads());
                    Assert.Equal(1, MatVecLinear.Threads);
                }
        }
        finally
        {
            set_num_threads(saved);
        }
    }

    [Fact]
    public void OtherCasesGoThroughLibtorch()
    {
        using var scope = NewDisposeScope();
        var layer = nn.Linear(8, 4, hasBias: false);
        var few = randn(2, 8);
        // With gradients on, the result must carry its graph: only libtorch's linear does.
        Assert.True(MatVecLinear.Forward(layer.weight!, few).requires_grad);
        using var inference = inference_mode();
        var many = randn(MatVecLinear.MaxRows + 1, 8);
        AssertClose(F.linear(many, layer.weight!), MatVecLinear.Forward(layer.weight!, many), 1e-6, 1e-6, "more rows than the kernel takes");
        var doubles = nn.Linear(8, 4, hasBias: false);
        doubles.to(float64);
        AssertClose(doubles.forward(few.to(float64)), MatVecLinear.Forward(doubles.weight!, few.to(float64)), 1e-12, 1e-12, "float64");
    }

    [Fact]
    public void Bf16RoundingMatchesLibtorch()
    {
        using var scope = NewDisposeScope();
        float[] special = [0f, -0f, 1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, -float.Epsilon,
            float.MaxValue, float.MinValue, 1e-40f, BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000),
            BitConverter.UInt32BitsToSingle(0x3F807FFF), BitConverter.UInt32BitsToSingle(0x7F7F8000)];
        var values = cat([tensor(special), randn(1000) * 1e3, rand(37)]).contiguous();
        var expected = values.to(bfloat16);
        var actual = empty(values.shape, bfloat16);
        unsafe
        {
            StreamingMatVec.Narrow((float*)MatVecLinear.Data(values), (ushort*)MatVecLinear.Data(actual), (int)values.numel());
        }
        // bf16 -> fp32 is exact, so equal fp32 bits mean equal bf16 bits.
        var (input, e, a) = (values.data<float>().ToArray(), expected.to(float32).data<float>().ToArray(), actual.to(float32).data<float>().ToArray());
        for (var i = 0; i < e.Length; i++)
        {
            if (float.IsNaN(input[i])) Assert.True(float.IsNaN(a[i]), $"NaN at {i} became {a[i]}");
            else Assert.True(BitConverter.SingleToUInt32Bits(e[i]) == BitConverter.SingleToUInt32Bits(a[i]), $"{input[i]:R}: libtorch {e[i]:R}, kernel {a[i]:R}");
        }
    }

    [Fact]
    public void SpinningWorkersRunEveryPartOnceFromManyCallers()
    {
        var counts = new int[4 * 64];
        Parallel.For(0, 64, call =>
        {
            var parts = call % 4 + 1;
            for (var repeat = 0; repeat < 50; repeat++)
                SpinningWorkers.Run(parts, p => Interlocked.Increment(ref counts[call * 4 + p]));
        });
        for (var call = 0; call < 64; call++)
            for (var p = 0; p < 4; p++)
                Assert.Equal(p < call % 4 + 1 ? 50 : 0, counts[call * 4 + p]);
    }

    [Fact]
    public void SpinningWorkersRunEachPartOnceWhenJobsOfOneAndTwoPartsAlternate()
    {
        // The helper sits out every job of one part; it must not then take the next job of two parts for that one and run it twice.
        const int Jobs = 100_000;
        var counts = new int[Jobs * 2];
        for (var job = 0; job < Jobs; job++)
        {
            var at = job * 2;
            SpinningWorkers.Run(job % 2 + 1, p => Interlocked.Increment(ref counts[at + p]));
        }
        for (var job = 0; job < Jobs; job++)
            for (var p = 0; p < 2; p++)
                Assert.True(counts[job * 2 + p] == (p <= job % 2 ? 1 : 0), $"job {job}, part {p} ran {counts[job * 2 + p]} times");
    }

    [Fact]
    public void A_part_that_throws_fails_its_caller_after_every_part_has_ended_and_the_workers_go_on()
    {
        var ended = new int[3];
        var e = Assert.Throws<InvalidOperationException>(() => SpinningWorkers.Run(3, p =>
        {
            if (p == 2) throw new InvalidOperationException("part 2");
            Thread.Sleep(20);
            Interlocked.Increment(ref ended[p]);
        }));
        Assert.Equal("part 2", e.Message);
        Assert.Equal([1, 1, 0], ended);
        Assert.Throws<ArithmeticException>(() => SpinningWorkers.Run(2, p => throw new ArithmeticException($"part {p}")));
        var after = new int[3];
        SpinningWorkers.Run(3, p => Interlocked.Increment(ref after[p]));
        Assert.Equal([1, 1, 1], after);
    }

    internal static void AssertClose(Tensor expected, Tensor actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected - actual).abs().max().to(float64).item<double>();
        Assert.True(expected.allclose(actual, rtol, atol), $"{what}: largest difference {diff}");
    }
}
