using System.Text.Json.Nodes;

namespace NanoVlm.Evaluation;

/// <summary>One document's line of the samples log: its prompt, raw and filtered response, and the values it gave each metric.</summary>
public sealed record DocResult(int DocId, JsonObject Doc, JsonNode? Target, string Prompt, string Response, string Filtered, JsonObject Metrics);

/// <summary>A task's aggregated score: the metric, its filter, its value and (for plain means over more than one document) the standard error.</summary>
public sealed record TaskScore(string Metric, string Filter, double Value, double? Stderr);

/// <summary>
/// A task's outcome. <see cref="Original"/>: documents in the split; <see cref="Unprompted"/>: documents that could not be put to
/// the model (an unreadable image, a prompt over the context), scored as an empty answer.
/// </summary>
public sealed record TaskResult(BenchmarkTask Task, string Origin, int Original, IReadOnlyList<DocResult> Docs, IReadOnlyList<TaskScore> Scores,
    JsonObject? Breakdown, int Unprompted = 0, long GeneratedTokens = 0, double Seconds = 0);

/// <summary>Scores a task's documents in order as their responses arrive, then aggregates - generated and re-scored answers alike.</summary>
public sealed class TaskScorer(BenchmarkTask task)
{
    readonly TaskScoring scoring = new();
    readonly List<DocResult> docs = [];

    public void Add(EvalDoc doc, string prompt, string response)
    {
        // lmms-eval filters the raw generation, then strips what the filter gives before process_results.
        var filtered = PyText.Strip(task.Filter(response));
        docs.Add(new DocResult(doc.Id, doc.ToJson(), task.Target(doc), prompt, response, filtered, task.Process(doc, filtered, scoring)));
    }

    public TaskResult Finish(string origin, int original, int unprompted = 0, long generatedTokens = 0, double seconds = 0)
    {
        var processed = docs.Select(d => d.Metrics).ToList();
        var scores = new List<TaskScore>();
        foreach (var metric in task.Metrics)
        {
            // As lmms-eval: a metric no document contributed to (a category cut off by limit) is not reported.
            var values = processed.Where(p => p.ContainsKey(metric.Name)).Select(p => p[metric.Name]!).ToList();
            if (values.Count == 0) continue;
            var value = metric.Aggregate(values);
            double? stderr = null;
            if (metric.IsMean && values.Count > 1)
            {
                var xs = values.Select(v => v.GetValue<double>()).ToList();
                var variance = xs.Sum(x => (x - value) * (x - value)) / (xs.Count - 1);
                stderr = Math.Sqrt(variance) / Math.Sqrt(xs.Count);
            }
            scores.Add(new TaskScore(metric.Name, task.FilterName, value, stderr));
        }
        return new TaskResult(task, origin, original, docs, scores, task.Breakdown(processed), unprompted, generatedTokens, seconds);
    }
}
