using System.Text.Json.Nodes;
using Parquet.Schema;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>pope</c> (lmms-eval <c>tasks/pope</c>): "Is there a X in the image?" over objects present and absent; a response is right when,
/// lower-cased and stripped, it is exactly the answer. Precision and recall count only responses that are exactly "yes" or "no";
/// the yes ratio is that of the answers.
/// </summary>
public sealed class PopeTask : BenchmarkTask
{
    public override string Name => "pope";
    public override string DatasetPath => "lmms-lab-encoder/POPE";
    public override string Split => "test";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("question_id", null), ("question", Value), ("answer", Value), ("image", Image));
    public override int? MaxNewTokens => 128;
    public override string PostPrompt => "\nAnswer the question using a single word or phrase.";

    public override string Prompt(EvalDoc doc) => $"{PrePrompt}{PyText.Strip(doc.Text("question"))}{PostPrompt}";

    public override JsonNode? Target(EvalDoc doc) => doc.Text("answer");

    public override IReadOnlyList<TaskMetric> Metrics { get; } =
    [
        new("pope_accuracy", r => r.Sum(x => (double)x["score"]!) / r.Count),
        new("pope_precision", Precision),
        new("pope_recall", Recall),
        new("pope_f1_score", r => (Precision(r), Recall(r)) is var (p, q) && p + q > 0 ? 2 * p * q / (p + q) : 0),
        new("pope_yes_ratio", r => Ratio(Count(r, "yes", null), Count(r, "yes", null) + Count(r, "no", null))),
    ];

    static int Count(IReadOnlyList<JsonNode> r, string? gold, string? predicted) =>
        r.Count(x => (gold is null || (string)x["ground_truth"]! == gold) && (predicted is null || (string)x["prediction"]! == predicted));

    static double Ratio(int a, int b) => b > 0 ? (double)a / b : 0;
    static double Precision(IReadOnlyList<JsonNode> r) => Ratio(Count(r, "yes", "yes"), Count(r, "yes", "yes") + Count(r, "no", "yes"));
    static double Recall(IReadOnlyList<JsonNode> r) => Ratio(Count(r, "yes", "yes"), Count(r, "yes", "yes") + Count(r, "yes", "no"));

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var prediction = PyText.Strip(response.ToLowerInvariant());
        var gold = PyText.Strip(doc.Text("answer").ToLowerInvariant());
        if (gold is not ("yes" or "no")) throw new NanoVlmException($"{doc.Source}: answer '{doc.Text("answer")}' is not yes or no");
        var score = prediction == gold ? 1.0 : 0.0;
        return new JsonObject(new[] { "pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio" }.Select(m =>
            KeyValuePair.Create(m, (JsonNode?)new JsonObject
            {
                ["question_id"] = doc.Json("question_id"), ["score"] = score, ["prediction"] = prediction, ["ground_truth"] = gold,
            })));
    }
}
