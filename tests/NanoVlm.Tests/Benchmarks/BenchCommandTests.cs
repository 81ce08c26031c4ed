using System.Text.Json;
using NanoVlm.Benchmarks;
using NanoVlm.Cli.Commands;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Benchmarks;

/// <summary>Each bench command end to end on the tiny preset with tiny sizes: the JSON Lines fields the issue asks for.</summary>
[Collection(nameof(RunsAlone))]
public class BenchCommandTests
{
    static List<JsonElement> RunBench(params string[] args)
    {
        using var dir = new TempDir();
        var json = Path.Combine(dir.Path, "bench.jsonl");
        var root = new System.CommandLine.RootCommand { BenchCommand.Create() };
        Assert.Equal(0, root.Parse(["bench", .. args, "--json", json]).Invoke(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        return File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    static void AssertFields(JsonElement row, params string[] fields)
    {
        foreach (var f in fields) Assert.True(row.TryGetProperty(f, out _), $"missing field {f} in {row}");
    }

    [Fact]
    public void TrainWritesOneRowPerDtypeAndBatchSize()
    {
        var rows = RunBench("train", "--preset", "tiny", "--batch-sizes", "1,2", "--seq-len", "24", "--steps", "1", "--peak-sizes", "64");
        Assert.Equal(4, rows.Count);
        foreach (var r in rows)
        {
            AssertFields(r, "preset", "batch_size", "seq_len", "dtype", "step_s", "samples_per_s", "tokens_per_s", "model_gflop_per_step", "peak_gflops", "mfu");
            Assert.True(r.GetProperty("mfu").GetDouble() > 0);
        }
        Assert.Equal(["fp32", "fp32", "bf16", "bf16"], rows.Select(r => r.GetProperty("dtype").GetString()));
    }

    [Fact]
    public void ServeWritesOneRowPerClientCount()
    {
        var model = Path.Combine(GoldenCases.CopyRoot("golden-v02"), "v02-public-a");
        var rows = RunBench("serve", "--model", model, "--image", Path.Combine(model, "image_0.png"), "--clients", "1,3", "--requests", "6",
            "--max-tokens", "4");
        Assert.Equal([1, 3], rows.Select(r => r.GetProperty("clients").GetInt32()));
        foreach (var r in rows)
        {
            AssertFields(r, "requests_per_s", "tokens_per_s", "latency_p50_s", "latency_p95_s", "first_token_p50_s", "first_token_p95_s", "mean_batch");
            Assert.Equal(6, r.GetProperty("requests").GetInt32());
            Assert.Equal(0, r.GetProperty("failed").GetInt32());
            Assert.True(r.GetProperty("tokens_per_s").GetDouble() > 0);
        }
    }

    /// <summary>The multi-turn load: the caches on and off in one table, the later turns hitting both caches only when on.</summary>
    [Fact]
    public void ServeConversationsCompareTheCachesOnAndOff()
    {
        var model = Path.Combine(GoldenCases.CopyRoot("golden-v02"), "v02-public-a");
        var rows = RunBench("serve", "--model", model, "--image", Path.Combine(model, "image_0.png"), "--turns", "3", "--conversations", "2",
            "--clients", "1", "--max-tokens", "4");
        Assert.Equal(["on", "off"], rows.Select(r => r.GetProperty("caches").GetString()));
        foreach (var r in rows)
            AssertFields(r, "first_turn_ttft_p50_s", "first_turn_ttft_p99_s", "later_turn_ttft_p50_s", "later_turn_ttft_p99_s", "inter_token_p50_s",
                "inter_token_p99_s", "tokens_per_s", "prefix_hit_rate", "image_hit_rate");
        // Three turns a conversation, each conversation its own image: the two later turns find it; the first finds nothing.
        Assert.InRange(rows[0].GetProperty("image_hit_rate").GetDouble(), 0.6, 0.7);
        Assert.True(rows[0].GetProperty("prefix_hit_rate").GetDouble() > 0.3);
        Assert.Equal(0, rows[1].GetProperty("image_hit_rate").GetDouble());
        Assert.Equal(0, rows[1].GetProperty("prefix_hit_rate").GetDouble());
    }

    [Fact]
    public void ServeLongPromptTimesTheStreamsBesideAPrefillPerChunkSize()
    {
        var model = Path.Combine(GoldenCases.CopyRoot("golden-v02"), "v02-public-a");
        var rows = RunBench("serve", "--model", model, "--long-prompt", "120", "--clients", "1", "--max-tokens", "24", "--prefill-chunk", "64,8");
        Assert.Equal(["64", "8"], rows.Select(r => r.GetProperty("setting").GetString()));
        foreach (var r in rows)
        {
            AssertFields(r, "inter_token_p50_s", "inter_token_p99_s", "largest_gap_s", "before_p50_s", "long_prompt_ttft_s", "gaps");
            Assert.True(r.GetProperty("largest_gap_s").GetDouble() >= r.GetProperty("inter_token_p99_s").GetDouble());
        }
        var e = Assert.Throws<NanoVlmException>(() => RunBench("serve", "--model", model, "--long-prompt", "10", "--max-tokens", "4"));
        Assert.StartsWith("--max-tokens must be more than", NanoVlm.Cli.ParameterFlags.Message(e));
    }

    [Fact]
    public void JsonTimesTheMaskInsideStringsAndElsewhere()
    {
        using var dir = new TempDir();
        TestModels.ByteLevelTokenizer(dir.Path);
        var schema = Path.Combine(dir.Path, "schema.json");
        File.WriteAllText(schema, Tests.Generation.JsonStateTests.Person);
        var rows = RunBench("json", "--tokenizer", dir.Path, "--schema", schema, "--answers", "2", "--max-tokens", "80");
        Assert.Equal(["building the vocabulary trie", "inside a string", "elsewhere"], rows.Select(r => r.GetProperty("where").GetString()));
        foreach (var r in rows) AssertFields(r, "steps", "mean_allowed", "median_ms", "p99_ms", "vocabulary");
        Assert.True(rows[1].GetProperty("mean_allowed").GetDouble() > rows[2].GetProperty("mean_allowed").GetDouble());
        File.WriteAllText(schema, """{"type": "string", "pattern": "x"}""");
        var e = Assert.Throws<NanoVlmException>(() => RunBench("json", "--tokenizer", dir.Path, "--schema", schema));
        Assert.Contains("'pattern'", e.Message);
        using var words = new TempDir();
        TestModels.WordLevelTokenizer(words.Path, 8);
        e = Assert.Throws<NanoVlmException>(() => RunBench("json", "--tokenizer", words.Path));
        Assert.Equal("Tokenizer", e.Parameter);
    }

    [Fact]
    public void GenerateWritesRowsWithAndWithoutTheKvCache()
    {
        var rows = RunBench("generate", "--preset", "tiny", "--prompt-len", "4", "--new-tokens", "3", "--repeats", "1", "--bandwidth-mib", "8");
        Assert.Equal(4, rows.Count);
        foreach (var r in rows)
            AssertFields(r, "preset", "batch_size", "dtype", "kv_cache", "prefill_s", "time_to_first_token_s", "decode_tokens_per_s",
                "read_bandwidth_gbs", "bandwidth_bound_tokens_per_s");
        Assert.Equal([true, false, true, false], rows.Select(r => r.GetProperty("kv_cache").GetBoolean()));
    }

    [Fact]
    public void MemoryMeasuresEachBatchSizeInAChildProcess()
    {
        var rows = RunBench("memory", "--preset", "tiny", "--batch-sizes", "1,2", "--seq-len", "24", "--steps", "1");
        Assert.Equal([1, 2], rows.Select(r => r.GetProperty("batch_size").GetInt32()));
        foreach (var r in rows)
        {
            AssertFields(r, "batch_size", "peak_bytes", "oom");
            Assert.False(r.GetProperty("oom").GetBoolean());
            Assert.True(r.GetProperty("peak_bytes").GetInt64() > 0);
        }
    }

    [Fact]
    public void MemorySweepStopsAtTheFirstOutOfMemory()
    {
        var o = new MemoryBenchOptions { BatchSizes = [1, 2, 4, 8] };
        var rows = MemoryBench.Run(o, b => new MemoryBenchRow("tiny", b, 128, "fp32", 1, b == 4 ? 0 : 2, Oom: b == 4, Threads: 1, Device: "cpu")).ToList();
        Assert.Equal([1, 2, 4], rows.Select(r => r.BatchSize));
        Assert.True(rows[^1].Oom);
    }

    [Theory]
    [InlineData(137, "", true)]
    [InlineData(1, "error: [enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 123 bytes", true)]
    [InlineData(1, "error: --seq-len 10 leaves no text", false)]
    public void RecognisesOutOfMemory(int exitCode, string stderr, bool oom) => Assert.Equal(oom, MemoryBench.IsOutOfMemory(exitCode, stderr));

    [Fact]
    public void BadArgumentsAreOneLineErrors()
    {
        Assert.Throws<NanoVlmException>(() => BenchDtypes.Parse("fp8"));
        var e = Assert.Throws<NanoVlmException>(() => new System.CommandLine.RootCommand { BenchCommand.Create() }
            .Parse(["bench", "train", "--preset", "huge"]).Invoke(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        Assert.Contains("222m", e.Message);
    }
}
