using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>ai2d</c> (lmms-eval <c>tasks/ai2d</c>): science diagrams with four options. Its "flexible-extract" filter keeps the letter of a
/// response that starts with "B." (else the whole response); exact match then ignores case and ASCII punctuation.
/// </summary>
public sealed partial class Ai2dTask : BenchmarkTask
{
    public override string Name => "ai2d";
    public override string DatasetPath => "lmms-lab-encoder/ai2d";
    public override string Split => "test";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("question", Value), ("options", List), ("answer", null), ("image", Image));
    public override int? MaxNewTokens => 16;
    public override string PostPrompt => "\nAnswer with the option's letter from the given choices directly.";

    public override JsonObject PromptKwargs() => new() { ["prompt_format"] = "mcq", ["pre_prompt"] = PrePrompt, ["post_prompt"] = PostPrompt };

    public override string Prompt(EvalDoc doc) => $"{PrePrompt}{doc.Text("question")}\n{Options(doc.Texts("options"))}{PostPrompt}";

    public override JsonNode? Target(EvalDoc doc) => Letter((int)doc.Integer("answer"));

    public override string FilterName => "flexible-extract";
    public override string Filter(string response) => LeadingLetter().Match(response) is { Success: true } m ? m.Groups[1].Value : response;

    public override IReadOnlyList<TaskMetric> Metrics { get; } = [TaskMetric.Mean("exact_match")];

    /// <summary>lmms-eval's <c>exact_match</c> with <c>ignore_case</c> and <c>ignore_punctuation</c> (Python's string.punctuation).</summary>
    public static bool ExactMatch(string prediction, string reference)
    {
        static string Clean(string s) => new(s.ToLowerInvariant().Where(c => !(c < 128 && char.IsPunctuation(c) || c < 128 && char.IsSymbol(c))).ToArray());
        return Clean(prediction) == Clean(reference);
    }

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring) =>
        new() { ["exact_match"] = ExactMatch(response, Letter((int)doc.Integer("answer"))) ? 1.0 : 0.0 };

    [GeneratedRegex(@"^\s*([A-Z])\.")]
    private static partial Regex LeadingLetter();
}
