using System.Text.Json.Nodes;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>chartqa</c> (lmms-eval <c>tasks/chartqa</c>): questions about charts, human-written and machine-generated ("augmented");
/// relaxed accuracy: a number within 5% of a non-zero numeric answer is right (a trailing % divides by 100), else the texts must be
/// equal ignoring case.
/// </summary>
public sealed class ChartQaTask : BenchmarkTask
{
    public override string Name => "chartqa";
    public override string DatasetPath => "lmms-lab-encoder/ChartQA";
    public override string Split => "test";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("type", Value), ("question", Value), ("answer", Value), ("image", Image));
    public override int? MaxNewTokens => 16;
    public override string PostPrompt => "\nAnswer the question with a single word.";

    public override string Prompt(EvalDoc doc) => $"{PrePrompt}{doc.Text("question")}{PostPrompt}";

    public override JsonNode? Target(EvalDoc doc) => doc.Text("answer");

    public override IReadOnlyList<TaskMetric> Metrics { get; } =
        [TaskMetric.Mean("relaxed_overall"), TaskMetric.Mean("relaxed_human_split"), TaskMetric.Mean("relaxed_augmented_split")];

    public static bool RelaxedCorrect(string prediction, string target, double maxRelativeChange = 0.05)
    {
        static double? ToFloat(string text) => text.EndsWith('%') ? PyText.Float(text.TrimEnd('%')) / 100.0 : PyText.Float(text);
        // Python's truth test: a target of 0 (or none) falls back to text equality, NaN does not.
        if (ToFloat(prediction) is { } p && ToFloat(target) is { } t && t != 0)
            return Math.Abs(p - t) / Math.Abs(t) <= maxRelativeChange;
        return prediction.ToLowerInvariant() == target.ToLowerInvariant();
    }

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var score = RelaxedCorrect(response, doc.Text("answer")) ? 1.0 : 0.0;
        return new JsonObject
        {
            ["relaxed_overall"] = score,
            [doc.Text("type") == "human_test" ? "relaxed_human_split" : "relaxed_augmented_split"] = score,
        };
    }
}
