using System.Text.Json.Nodes;
using NanoVlm.Evaluation;
using NanoVlm.Tests.Data;
using Parquet.Schema;
using SkiaSharp;

namespace NanoVlm.Tests.Evaluation;

/// <summary>
/// <c>nanovlm eval --tasks</c> end to end as a user runs it: a tiny model on local parquet files shaped like three tasks' Hub datasets
/// writes lmms-eval's <c>results.json</c> and samples logs, <c>--responses</c> re-scores those logs to the same numbers (and edited
/// answers to the numbers they deserve), and bad input stops with one line before any <c>results.json</c> exists.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class TaskRunTests : IDisposable
{
    readonly TempDir dir = new();

    static readonly ParquetSchema Pope = new(
        new DataField<long>("question_id"), new DataField<string>("question"), new DataField<string>("answer"),
        new StructField("image", new DataField<byte[]>("bytes"), new DataField<string>("path")), new DataField<string>("category"));

    static readonly ParquetSchema DocVqa = new(
        new DataField<string>("questionId"), new DataField<string>("question"), new ListField("answers", new DataField<string>("element")),
        new StructField("image", new DataField<byte[]>("bytes"), new DataField<string>("path")));

    /// <summary>A list of strings as Parquet.Net's untyped writer takes it.</summary>
    static List<ReadOnlyMemory<char>?> Texts(params string[] items) => [.. items.Select(s => (ReadOnlyMemory<char>?)s.AsMemory())];

    static byte[] Png(int seed) => ImageBytes.Encode(ImageBytes.Pattern(40, 30, seed), 40, 30, SKEncodedImageFormat.Png);

    public TaskRunTests()
    {
        var model = TestModels.Create(seed: 4);
        using var vlm = TestModels.Vlm(model);
        vlm.Save(dir["model"]);
        Directory.CreateDirectory(dir["mmstar"]);
        ParquetFixtures.Write(dir["mmstar/val.parquet"], ParquetFixtures.MmStar, [.. Enumerable.Range(0, 5).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["index"] = (long)i, ["question"] = $"w{2 + i} w3 Options: A: w4, B: w5, C: w6, D: w7", ["image"] = ParquetFixtures.Image(Png(i)),
            ["answer"] = "ABCDA"[i].ToString(), ["category"] = i < 3 ? "math" : "coarse perception", ["l2_category"] = i < 2 ? "geometry" : "image style & quality",
            ["meta_info"] = new Dictionary<string, object?> { ["source"] = "t", ["split"] = "val" },
        })], rowGroupSize: 2);
        ParquetFixtures.Write(dir["pope.parquet"], Pope, [.. Enumerable.Range(0, 4).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["question_id"] = (long)(10 + i), ["question"] = $"w{9 + i} w8 ?", ["answer"] = i % 2 == 0 ? "yes" : "no",
            ["image"] = ParquetFixtures.Image(Png(10 + i)), ["category"] = "adversarial",
        })], rowGroupSize: 3);
        Directory.CreateDirectory(dir["docvqa/DocVQA"]);
        ParquetFixtures.Write(dir["docvqa/DocVQA/validation-00000-of-00001.parquet"], DocVqa, [.. Enumerable.Range(0, 3).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["questionId"] = $"{100 + i}", ["question"] = $"w{20 + i} w21", ["answers"] = Texts($"w{30 + i}", "w40"),
            ["image"] = ParquetFixtures.Image(Png(20 + i)),
        })], rowGroupSize: 3);
        // A test split beside it, which the task must not read.
        ParquetFixtures.Write(dir["docvqa/DocVQA/test-00000-of-00001.parquet"], DocVqa, [new Dictionary<string, object?>
        {
            ["questionId"] = "1", ["question"] = "w2", ["answers"] = Texts("w3"), ["image"] = ParquetFixtures.Image(Png(1)),
        }], rowGroupSize: 1);
    }

    public void Dispose() => dir.Dispose();

    string[] Datasets => ["--dataset", $"mmstar={dir["mmstar"]}", "--dataset", $"pope={dir["pope.parquet"]}", "--dataset", $"docvqa_val={dir["docvqa"]}"];

    static JsonObject Results(string folder) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))!;

    [Fact]
    public void ThreeTasksWriteLmmsEvalLogsThatRescoreToTheSameNumbers()
    {
        var (code, output, err) = CliProcess.Run(["eval", "--model", dir["model"], "--tasks", "mmstar,pope,docvqa_val", .. Datasets,
            "--batch-size", "2", "--output", dir["out"], "--device", "cpu"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("Tasks", output);
        var results = Results(dir["out"]);
        Assert.Equal(["mmstar", "pope", "docvqa_val"], results["results"]!.AsObject().Select(kv => kv.Key));
        Assert.Equal(5, (int)results["n-samples"]!["mmstar"]!["effective"]!);
        Assert.Equal(3, (int)results["n-samples"]!["docvqa_val"]!["original"]!);
        Assert.NotNull(results["results"]!["mmstar"]!["average,none"]);
        Assert.Equal("N/A", (string)results["results"]!["mmstar"]!["average_stderr,none"]!);
        Assert.NotNull(results["results"]!["pope"]!["pope_f1_score,none"]);
        Assert.NotNull(results["results"]!["docvqa_val"]!["anls_stderr,none"]);
        Assert.Equal(32, (int)results["configs"]!["docvqa_val"]!["generation_kwargs"]!["max_new_tokens"]!);
        Assert.Equal("DocVQA", (string)results["configs"]!["docvqa_val"]!["dataset_name"]!);

        var lines = File.ReadAllLines(dir["out/samples_pope.jsonl"]).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal([0, 1, 2, 3], lines.Select(l => (int)l["doc_id"]!));
        foreach (var line in lines)
        {
            Assert.Equal(["doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio"],
                line.Select(kv => kv.Key));
            Assert.Null(line["doc"]!["image"]);
            Assert.EndsWith("\nAnswer the question using a single word or phrase.", (string)line["arguments"]![0]!);
        }

        // The logs re-scored without a model give the same numbers.
        string[] logs = ["--responses", dir["out/samples_mmstar.jsonl"], "--responses", dir["out/samples_pope.jsonl"], "--responses", dir["out/samples_docvqa_val.jsonl"]];
        (code, output, err) = CliProcess.Run(["eval", .. logs, .. Datasets, "--output", dir["again"]]);
        Assert.True(code == 0, err + output);
        Assert.Equal(results["results"]!.ToJsonString(), Results(dir["again"])["results"]!.ToJsonString());

        // Edited answers (as another tool would log them) get the scores the rules give them.
        var edited = lines.Select(l =>
        {
            var copy = l.DeepClone().AsObject();
            copy["resps"] = new JsonArray(new JsonArray((int)l["doc_id"]! == 1 ? "Yes" : (string)l["target"]!));
            return copy.ToJsonString();
        });
        Directory.CreateDirectory(dir["edited"]);
        File.WriteAllLines(dir["edited/2026-12-06_samples_pope.jsonl"], edited);
        (code, output, err) = CliProcess.Run(["eval", "--responses", dir["edited/2026-12-06_samples_pope.jsonl"], "--dataset", $"pope={dir["pope.parquet"]}",
            "--output", dir["edited/out"]]);
        Assert.True(code == 0, err + output);
        var pope = Results(dir["edited/out"])["results"]!["pope"]!;
        Assert.Equal(0.75, (double)pope["pope_accuracy,none"]!);
        Assert.Equal(2 / 3.0, (double)pope["pope_precision,none"]!, 12);
        Assert.Equal(1.0, (double)pope["pope_recall,none"]!);
    }

    /// <summary><c>mpirun -np 2 nanovlm eval</c>: the processes share the documents and rank 0 writes what one process writes.</summary>
    [Fact]
    public void TwoProcessesShareTheDocumentsAndGiveOneProcesssResults()
    {
        string[] eval = ["eval", "--model", dir["model"], "--tasks", "mmstar,pope", .. Datasets[..4], "--batch-size", "1", "--device", "cpu"];
        var (code, output, err) = CliProcess.Run([.. eval, "--output", dir["one"]]);
        Assert.True(code == 0, err + output);
        (code, output, err) = Processes.Mpirun(
            ["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "HF_HUB_OFFLINE=1", "dotnet", CliProcess.Dll, .. eval, "--output", dir["two"]],
            timeout: TimeSpan.FromMinutes(3));
        Assert.True(code == 0, err + output);
        Assert.Single(output.Split('\n'), l => l.Contains("wrote "));   // rank 0 alone writes and prints
        Assert.Equal(Results(dir["one"])["results"]!.ToJsonString(), Results(dir["two"])["results"]!.ToJsonString());
        foreach (var task in new[] { "mmstar", "pope" })
            Assert.Equal(File.ReadAllLines(Path.Combine(dir["one"], $"samples_{task}.jsonl")), File.ReadAllLines(Path.Combine(dir["two"], $"samples_{task}.jsonl")));
    }

    [Fact]
    public void TrainingRunsTheTasksLogsTheirMetricsAndKeepsTheBestByOne()
    {
        string[] train = ["train", "--preset", "tiny", "--data", "fashion-mnist", "--cutoff", "64", "--max-steps", "4", "--batch-size", "4",
            "--grad-accum", "1", "--threads", "1", "--workers", "1", "--eval-interval", "4", "--eval-samples", "0", "--val-ratio", "0",
            "--output", dir["runs"], "--eval-tasks", "pope", "--eval-dataset", $"pope={dir["pope.parquet"]}", "--eval-every", "2", "--eval-limit", "3"];
        var (code, output, err) = CliProcess.Run([.. train, "--run-name", "tasks", "--best-by", "pope/pope_accuracy"]);
        Assert.True(code == 0, err + output);
        var evals = File.ReadAllLines(dir["runs/tasks/metrics.jsonl"]).Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(l => l.ContainsKey("pope/pope_accuracy")).ToList();
        Assert.Equal([2, 4], evals.Select(l => (int)l["step"]!));
        Assert.All(evals, l => Assert.InRange((double)l["pope/pope_yes_ratio"]!, 0.66, 0.67)); // 2 of the first 3 answers are yes
        Assert.True(Directory.Exists(dir["runs/tasks/best"]));
        Assert.Contains("best pope/pope_accuracy", output);

        (code, output, err) = CliProcess.Run([.. train, "--run-name", "bad", "--best-by", "pope/accuracy"]);
        Assert.True(code != 0);
        Assert.Contains("--best-by 'pope/accuracy' is not a metric of the tasks run (one of pope/pope_accuracy", err);
    }

    void Fails(string expected, params string[] args)
    {
        var output = dir[$"bad-{Guid.NewGuid():N}"];
        var (code, stdout, err) = CliProcess.Run([.. args, "--output", output]);
        Assert.True(code != 0, $"exit 0 for {string.Join(' ', args)}: {stdout}");
        var line = Assert.Single(err.Trim().Split('\n'));
        Assert.Contains(expected, line);
        Assert.False(File.Exists(Path.Combine(output, "results.json")));
    }

    [Fact]
    public void BadInputIsOneLineAndLeavesNoResults()
    {
        Fails("unknown task 'mmlu'", "eval", "--model", dir["model"], "--tasks", "mmstar,mmlu");
        Fails("missing column 'answers'", "eval", "--model", dir["model"], "--tasks", "docvqa_val", "--dataset", $"docvqa_val={dir["pope.parquet"]}");
        Directory.CreateDirectory(dir["testonly"]);
        File.Copy(dir["docvqa/DocVQA/test-00000-of-00001.parquet"], dir["testonly/test-00000-of-00001.parquet"]);
        Fails("no parquet file of split 'validation'", "eval", "--model", dir["model"], "--tasks", "docvqa_val", "--dataset", $"docvqa_val={dir["testonly"]}");
        Fails("no parquet files of config 'InfographicVQA'", "eval", "--model", dir["model"], "--tasks", "infovqa_val", "--dataset", $"infovqa_val={dir["docvqa"]}");
        ParquetFixtures.Write(dir["empty.parquet"], Pope, [], rowGroupSize: 1);
        Fails("has no documents", "eval", "--model", dir["model"], "--tasks", "pope", "--dataset", $"pope={dir["empty.parquet"]}");

        File.WriteAllLines(dir["samples_mmstar.jsonl"], ["""{"doc_id": 0, "doc": {"question": "w2 w3 Options: A: w4, B: w5, C: w6, D: w7"}, "resps": [["A"]]}"""]);
        Fails("(responses of another task or split?)", "eval", "--responses", $"pope={dir["samples_mmstar.jsonl"]}", "--dataset", $"pope={dir["pope.parquet"]}");
        File.WriteAllLines(dir["bad/samples_pope.jsonl"] is var unknown && Directory.CreateDirectory(dir["bad"]) is not null ? unknown : "",
            ["""{"doc_id": 99, "resps": [["yes"]]}"""]);
        Fails("doc_id 99 is not a document of pope", "eval", "--responses", unknown, "--dataset", $"pope={dir["pope.parquet"]}");
        Fails("say which task it is for", "eval", "--responses", dir["model/config.json"]);
        Fails("--model is required", "eval", "--tasks", "pope");
    }
}
