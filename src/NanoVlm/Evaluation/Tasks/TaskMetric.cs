using System.Text.Json.Nodes;

namespace NanoVlm.Evaluation;

/// <summary>
/// A metric of a task, named as lmms-eval names it, with how its per-document values become one number. <see cref="IsMean"/>:
/// lmms-eval's plain <c>mean</c> aggregation, the only one it reports a standard error for.
/// </summary>
public sealed record TaskMetric(string Name, Func<IReadOnlyList<JsonNode>, double> Aggregate, bool IsMean = false)
{
    public static TaskMetric Mean(string name) => new(name, values => values.Sum(v => v.GetValue<double>()) / values.Count, IsMean: true);
}
