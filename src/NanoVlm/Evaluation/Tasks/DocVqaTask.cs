using System.Text.Json.Nodes;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>docvqa_val</c> and <c>infovqa_val</c> (lmms-eval <c>tasks/docvqa</c>, <c>tasks/infovqa</c>): questions about document pages
/// and infographics, scored by <see cref="Anls"/> against every accepted answer.
/// </summary>
public sealed class DocVqaTask(string name, string config) : BenchmarkTask
{
    public static DocVqaTask DocVqa() => new("docvqa_val", "DocVQA");
    public static DocVqaTask InfographicVqa() => new("infovqa_val", "InfographicVQA");

    public override string Name => name;
    public override string DatasetPath => "lmms-lab-encoder/DocVQA";
    public override string? DatasetName => config;
    public override string Split => "validation";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(("question", Value), ("answers", List), ("image", Image));
    public override int? MaxNewTokens => 32;
    public override string PostPrompt => "\nAnswer the question using a single word or phrase.";

    public override string Prompt(EvalDoc doc) => $"{PrePrompt}{doc.Text("question")}{PostPrompt}";

    public override JsonNode? Target(EvalDoc doc) => doc.Json("answers");

    public override IReadOnlyList<TaskMetric> Metrics { get; } = [TaskMetric.Mean("anls")];

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring) =>
        new() { ["anls"] = Anls.Score(doc.Texts("answers"), response) };
}
