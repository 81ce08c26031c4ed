using System.Text.Json.Nodes;
using Parquet.Schema;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>mme</c> (lmms-eval <c>tasks/mme</c>): two yes/no questions per image in 14 categories. Per image, accuracy (0-100) plus acc+
/// (100 when both are right); a category scores the mean over its images (0-200); perception and cognition are the sums of their
/// categories (at most 2,000 and 800).
/// </summary>
public sealed class MmeTask : BenchmarkTask
{
    static readonly string[] Perception = ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR"];

    public override string Name => "mme";
    public override string DatasetPath => "lmms-lab-encoder/MME";
    public override string Split => "test";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("question_id", Value), ("question", Value), ("answer", Value), ("category", Value), ("image", Image));
    public override int? MaxNewTokens => 16;
    public override string PostPrompt => "\nAnswer the question using a single word or phrase.";

    public override string Prompt(EvalDoc doc) => QuestionWithoutYesNo(doc);

    public override JsonNode? Target(EvalDoc doc) => doc.Text("answer");

    public override IReadOnlyList<TaskMetric> Metrics { get; } =
        [new("mme_perception_score", r => CategoryScores(r).Values.Sum()), new("mme_cognition_score", r => CategoryScores(r).Values.Sum())];

    /// <summary>Otter's yes/no reading: "yes"/"no" (periods dropped), "y"/"n", else yes or no within the first four characters.</summary>
    public static string ParseYesNo(string response)
    {
        var p = PyText.Strip(response.ToLowerInvariant()).Replace(".", "");
        if (p is "yes" or "no") return p;
        if (PyText.Length(p) == 1) return p == "y" ? "yes" : p == "n" ? "no" : "other";
        var prefix = new string(p.EnumerateRunes().Take(4).SelectMany(r => r.ToString()).ToArray());
        return prefix.Contains("yes", StringComparison.Ordinal) ? "yes" : prefix.Contains("no", StringComparison.Ordinal) ? "no" : "other";
    }

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var gold = PyText.Strip(doc.Text("answer").ToLowerInvariant()).Replace(".", "");
        if (gold is not ("yes" or "no")) throw new NanoVlmException($"{doc.Source}: answer '{doc.Text("answer")}' is not yes or no");
        var category = doc.Text("category");
        return new JsonObject
        {
            [Perception.Contains(category) ? "mme_perception_score" : "mme_cognition_score"] = new JsonObject
            {
                ["question_id"] = doc.Json("question_id"), ["category"] = category, ["score"] = ParseYesNo(response) == gold ? 1.0 : 0.0,
            },
        };
    }

    /// <summary>
    /// Each category's mean over its images of accuracy + acc+. The original requires both questions of every image; with
    /// <c>limit</c> an image may have one, which counts as its own pair.
    /// </summary>
    static Dictionary<string, double> CategoryScores(IEnumerable<JsonNode> results) =>
        results.GroupBy(r => (string)r["category"]!).ToDictionary(g => g.Key, g =>
        {
            var perImage = g.GroupBy(r => r["question_id"]!.ToJsonString()).Select(q =>
            {
                var scores = q.Select(r => (double)r["score"]!).ToList();
                return scores.Sum() / scores.Count * 100.0 + (scores.All(s => s == 1) ? 100.0 : 0.0);
            }).ToList();
            return perImage.Sum() / perImage.Count;
        });

    public override JsonObject? Breakdown(IReadOnlyList<JsonObject> processed)
    {
        var scores = CategoryScores(processed.SelectMany(p => p.Select(kv => kv.Value!)));
        return new JsonObject(scores.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
    }
}
