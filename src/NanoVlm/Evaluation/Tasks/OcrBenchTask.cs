using System.Text;
using System.Text.Json.Nodes;
using Parquet.Schema;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>ocrbench</c> (lmms-eval <c>tasks/ocrbench</c>): 1,000 questions in ten categories; a response scores 1 when it contains one of
/// the answers - for handwritten math (HME100k) with every space and newline removed, elsewhere lower-cased with full-width ASCII
/// folded. The metric is the number right out of 1,000 (over 1,000 whatever <c>limit</c> is, as the original).
/// </summary>
public sealed class OcrBenchTask : BenchmarkTask
{
    static readonly string[] Recognition =
    [
        "Regular Text Recognition", "Irregular Text Recognition", "Artistic Text Recognition", "Handwriting Recognition",
        "Digit String Recognition", "Non-Semantic Text Recognition",
    ];
    static readonly string[] Categories =
        [.. Recognition, "Scene Text-centric VQA", "Doc-oriented VQA", "Key Information Extraction", "Handwritten Mathematical Expression Recognition"];

    public override string Name => "ocrbench";
    public override string DatasetPath => "echo840/OCRBench";
    public override string Split => "test";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("question", Value), ("answer", null), ("dataset", Value), ("question_type", Value), ("image", Image));
    public override int? MaxNewTokens => 128;

    public override string Prompt(EvalDoc doc) => $"{PrePrompt}{PyText.Strip(doc.Text("question"))}{PostPrompt}";

    public override JsonNode? Target(EvalDoc doc) => doc.Json("answer");

    public override IReadOnlyList<TaskMetric> Metrics { get; } = [new("ocrbench_accuracy", r => Totals(r).Final / 1000.0)];

    public static bool Score(string response, IReadOnlyList<string> answers, string sourceDataset)
    {
        var prediction = PyText.Strip(response);
        if (sourceDataset == "HME100k")
        {
            static string NoSpaces(string s) => PyText.Strip(s).Replace("\n", " ").Replace(" ", "");
            return answers.Any(a => NoSpaces(prediction).Contains(NoSpaces(a), StringComparison.Ordinal));
        }
        static string Fold(string s) => PyText.Strip(FoldFullWidth(s).ToLowerInvariant()).Replace("\n", " ");
        return answers.Any(a => Fold(prediction).Contains(Fold(a), StringComparison.Ordinal));
    }

    /// <summary>U+FF01..U+FF5E to ASCII and the ideographic space to a space, nothing else (not NFKC).</summary>
    static string FoldFullWidth(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (var c in s) b.Append(c is >= '\uFF01' and <= '\uFF5E' ? (char)(c - 0xFEE0) : c == '\u3000' ? ' ' : c);
        return b.ToString();
    }

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var type = doc.Text("question_type");
        if (!Categories.Contains(type))
            throw new NanoVlmException($"{doc.Source}: question_type '{type}' is not one of OCRBench's ten ({string.Join(", ", Categories)})");
        return new JsonObject
        {
            ["ocrbench_accuracy"] = new JsonObject
            {
                ["question_type"] = type, ["score"] = Score(response, doc.Texts("answer"), doc.Text("dataset")) ? 1 : 0,
                ["prediction"] = response, ["ground_truth"] = doc.Json("answer"),
            },
        };
    }

    static (Dictionary<string, int> ByCategory, int Final) Totals(IReadOnlyList<JsonNode> results)
    {
        var sums = Categories.ToDictionary(c => c, c => results.Where(r => (string)r["question_type"]! == c).Sum(r => (int)r["score"]!));
        return (sums, sums.Values.Sum());
    }

    public override JsonObject? Breakdown(IReadOnlyList<JsonObject> processed)
    {
        var (sums, final) = Totals(processed.Select(p => p["ocrbench_accuracy"]!).ToList());
        var breakdown = new JsonObject { ["Text Recognition"] = Recognition.Sum(c => sums[c]) };
        foreach (var (category, sum) in sums) breakdown[category] = sum;
        breakdown["Final Score"] = final;
        return breakdown;
    }
}
