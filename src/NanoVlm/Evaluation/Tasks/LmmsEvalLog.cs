using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>What <c>results.json</c> says about the run itself (lmms-eval's <c>config</c> section).</summary>
public sealed record EvaluationRunInfo(string Model, int BatchSize, int? Limit, string Device, DateTimeOffset Started,
    PromptFormat PromptFormat = PromptFormat.LmmsEval);

/// <summary>
/// lmms-eval's output layout, so its tooling and people's scripts read ours: <c>results.json</c> (<c>results.&lt;task&gt;.&lt;metric&gt;,&lt;filter&gt;</c>,
/// <c>n-samples</c>, <c>configs</c>, <c>config</c>) and one <c>samples_&lt;task&gt;.jsonl</c> per task (<c>doc_id</c>, <c>doc</c>,
/// <c>target</c>, <c>arguments</c>, <c>resps</c>, <c>filtered_resps</c>, then the metric values); and the reading of such sample logs
/// back, ours or lmms-eval's, to re-score their answers.
/// </summary>
public static partial class LmmsEvalLog
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonSerializerOptions Line = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes every samples file, then <c>results.json</c> last, each atomically: an interrupted write leaves no partial file.</summary>
    public static void Write(string folder, IReadOnlyList<TaskResult> results, EvaluationRunInfo run)
    {
        Directory.CreateDirectory(folder);
        foreach (var result in results)
            AtomicFile.Write(Path.Combine(folder, $"samples_{result.Task.Name}.jsonl"), stream =>
            {
                using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
                foreach (var doc in result.Docs) writer.Write(SampleLine(result.Task, doc) + "\n");
            });
        AtomicFile.WriteAllText(Path.Combine(folder, "results.json"), Results(results, run).ToJsonString(Indented) + "\n");
    }

    static string SampleLine(BenchmarkTask task, DocResult doc)
    {
        var line = new JsonObject
        {
            ["doc_id"] = doc.DocId,
            ["doc"] = doc.Doc.DeepClone(),
            ["target"] = doc.Target?.DeepClone(),
            ["arguments"] = new JsonArray(doc.Prompt, task.GenerationKwargs()),
            ["resps"] = new JsonArray(new JsonArray(doc.Response)),
            ["filtered_resps"] = new JsonArray(doc.Filtered),
        };
        foreach (var (metric, value) in doc.Metrics) line[metric] = value?.DeepClone();
        return line.ToJsonString(Line);
    }

    public static JsonObject Results(IReadOnlyList<TaskResult> results, EvaluationRunInfo run)
    {
        JsonObject PerTask(Func<TaskResult, JsonNode?> value) =>
            new(results.Select(r => KeyValuePair.Create(r.Task.Name, value(r))));
        return new JsonObject
        {
            ["results"] = PerTask(r =>
            {
                var o = new JsonObject { ["alias"] = r.Task.Name };
                foreach (var s in r.Scores)
                {
                    o[$"{s.Metric},{s.Filter}"] = s.Value;
                    o[$"{s.Metric}_stderr,{s.Filter}"] = s.Stderr is { } e ? JsonValue.Create(e) : JsonValue.Create("N/A");
                }
                return o;
            }),
            ["group_subtasks"] = PerTask(_ => new JsonArray()),
            ["configs"] = PerTask(r => Config(r)),
            ["versions"] = PerTask(_ => 0.0),
            ["n-shot"] = PerTask(_ => 0),
            ["higher_is_better"] = PerTask(r => new JsonObject(r.Task.Metrics.Select(m => KeyValuePair.Create(m.Name, (JsonNode?)true)))),
            ["n-samples"] = PerTask(r => new JsonObject { ["original"] = r.Original, ["effective"] = r.Docs.Count }),
            ["breakdown"] = PerTask(r => r.Breakdown?.DeepClone()),
            ["config"] = new JsonObject
            {
                ["model"] = "nanovlm", ["model_args"] = $"model={run.Model}", ["batch_size"] = run.BatchSize, ["limit"] = run.Limit,
                ["device"] = run.Device, ["random_seed"] = 0,
                ["prompt_format"] = run.PromptFormat == PromptFormat.NanoVlm ? "nanovlm" : "lmms-eval",
            },
            ["date"] = run.Started.ToUnixTimeMilliseconds() / 1000.0,
            ["total_evaluation_time_seconds"] = (DateTimeOffset.UtcNow - run.Started).TotalSeconds.ToString("F4", CultureInfo.InvariantCulture),
        };
    }

    static JsonObject Config(TaskResult r)
    {
        var t = r.Task;
        var config = new JsonObject
        {
            ["task"] = t.Name, ["dataset_path"] = t.DatasetPath, ["dataset_source"] = r.Origin, ["test_split"] = t.Split,
            ["output_type"] = "generate_until", ["generation_kwargs"] = t.GenerationKwargs(),
            ["lmms_eval_specific_kwargs"] = new JsonObject { ["default"] = t.PromptKwargs() },
            ["metric_list"] = new JsonArray([.. t.Metrics.Select(m => new JsonObject
            {
                ["metric"] = m.Name, ["aggregation"] = m.IsMean ? "mean" : $"{t.Name}_aggregate", ["higher_is_better"] = true,
            })]),
            ["example_prompt"] = r.Docs.Count > 0 ? r.Docs[0].Prompt : null,
        };
        if (t.DatasetName is { } name) config["dataset_name"] = name;
        if (t.FilterName != "none") config["filter_list"] = new JsonArray(new JsonObject { ["name"] = t.FilterName });
        return config;
    }

    /// <summary>A responses file must exist (checked before any dataset is fetched for it).</summary>
    public static void RequireResponsesFile(string path)
    {
        if (!File.Exists(path)) throw NanoVlmException.For("Responses", $"{path}: no such file");
    }

    /// <summary>The task a samples file belongs to, from its name (<c>samples_&lt;task&gt;.jsonl</c>, or lmms-eval's <c>&lt;date&gt;_samples_&lt;task&gt;.jsonl</c>).</summary>
    public static string? TaskOfFile(string path)
    {
        var name = Path.GetFileName(path);
        return BenchmarkTasks.Names.Where(t => name.EndsWith($"samples_{t}.jsonl", StringComparison.Ordinal)).MaxBy(t => t.Length);
    }

    /// <summary>
    /// The raw answers of a samples file by <c>doc_id</c> (<c>resps[0][0]</c>). A line's <c>doc</c>, when present, must be the same
    /// document as the task's (its question), so a file of another task or split is refused rather than scored.
    /// </summary>
    public static IReadOnlyDictionary<int, string> ReadResponses(string path, TaskDataset data)
    {
        RequireResponsesFile(path);
        var responses = new Dictionary<int, string>();
        var lines = File.ReadLines(path).Select((text, i) => (text, number: i + 1)).Where(l => l.text.Trim().Length > 0).ToList();
        if (lines.Count == 0) throw NanoVlmException.For("Responses", $"{path}: no samples in the file");
        var questions = new Dictionary<int, JsonNode?>();
        foreach (var (text, number) in lines)
        {
            JsonObject line;
            try { line = JsonNode.Parse(text) as JsonObject ?? throw new JsonException("not a JSON object"); }
            catch (JsonException e) { throw NanoVlmException.For("Responses", $"{path} line {number}: not a samples line ({e.Message})"); }
            if (line["doc_id"] is not JsonValue id || !id.TryGetValue<int>(out var docId))
                throw NanoVlmException.For("Responses", $"{path} line {number}: no integer doc_id");
            if (docId < 0 || docId >= data.Count)
                throw NanoVlmException.For("Responses", $"{path} line {number}: doc_id {docId} is not a document of {data.Task.Name} ({data.Count} documents in {data.Origin})");
            if (line["resps"] is not JsonArray { Count: > 0 } resps || resps[0] is not JsonArray { Count: > 0 } first || first[0] is not JsonValue answer
                || !answer.TryGetValue<string>(out var response))
                throw NanoVlmException.For("Responses", $"{path} line {number}: resps[0][0] is not the answer text");
            if (!responses.TryAdd(docId, response)) throw NanoVlmException.For("Responses", $"{path} line {number}: doc_id {docId} appears twice");
            questions[docId] = line["doc"]?["question"];
        }
        foreach (var doc in data.Docs(responses.Keys.Max() + 1))
            if (questions.GetValueOrDefault(doc.Id) is JsonValue q && doc.Row.GetValueOrDefault("question") is string question
                && q.TryGetValue<string>(out var logged) && logged != question)
                throw NanoVlmException.For("Responses", $"{path}: doc_id {doc.Id} asks '{Shorten(logged)}' where {data.Task.Name} document {doc.Id} asks '{Shorten(question)}' (responses of another task or split?)");
        return responses;
    }

    static string Shorten(string s) => Whitespace().Replace(s.Length <= 60 ? s : s[..60] + "...", " ");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
