using System.Text.Json.Nodes;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>mmstar</c> (lmms-eval <c>tasks/mmstar</c>): 1,500 four-choice questions; the letter is extracted with
/// <see cref="ChoiceLetter"/>, and each metric (six categories and the average) is the mean of its l2-category means.
/// </summary>
public sealed class MmStarTask : BenchmarkTask
{
    static readonly string[] Categories =
        ["coarse perception", "fine-grained perception", "instance reasoning", "logical reasoning", "science & technology", "math"];

    public override string Name => "mmstar";
    public override string DatasetPath => "Lin-Chen/MMStar";
    public override string Split => "val";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("index", null), ("question", Value), ("image", Image), ("answer", Value), ("category", Value), ("l2_category", Value));
    public override string PostPrompt => "\nAnswer with the option's letter from the given choices directly";

    public override string Prompt(EvalDoc doc) => QuestionWithoutYesNo(doc);

    public override JsonNode? Target(EvalDoc doc) => doc.Text("answer");

    public override IReadOnlyList<TaskMetric> Metrics { get; } =
        [.. Categories.Append("average").Select(c => new TaskMetric(c, MeanOfL2Means))];

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var score = ChoiceLetter.Extract(response, ["A", "B", "C", "D"]) == PyText.Strip(doc.Text("answer")).ToUpperInvariant() ? 1.0 : 0.0;
        JsonObject Entry() => new() { ["question_id"] = doc.Json("index"), ["l2_category"] = doc.Text("l2_category"), ["score"] = score };
        return new JsonObject { [doc.Text("category")] = Entry(), ["average"] = Entry() };
    }

    static double MeanOfL2Means(IReadOnlyList<JsonNode> results) =>
        results.GroupBy(r => (string)r["l2_category"]!).Select(g => g.Sum(r => (double)r["score"]!) / g.Count()).Sum()
        / results.Select(r => (string)r["l2_category"]!).Distinct().Count();
}
