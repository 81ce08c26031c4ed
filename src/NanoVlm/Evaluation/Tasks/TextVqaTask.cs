using System.Text.Json.Nodes;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>textvqa_val</c> (lmms-eval <c>tasks/textvqa</c>): 5,000 questions about text in photos, ten human answers each; VQA accuracy
/// over the EvalAI-normalized answers (<see cref="VqaAnswer"/>). The question is capitalized as Python's <c>str.capitalize</c> does.
/// </summary>
public sealed class TextVqaTask : BenchmarkTask
{
    public override string Name => "textvqa_val";
    public override string DatasetPath => "lmms-lab-encoder/textvqa";
    public override string Split => "validation";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("question", Value), ("answers", List), ("question_id", null), ("image", Image));
    public override IReadOnlyList<string> Until => ["ASSISTANT:"];
    public override string PostPrompt => "\nAnswer the question using a single word or phrase.";

    public override JsonObject PromptKwargs() => new() { ["pre_prompt"] = PrePrompt, ["post_prompt"] = PostPrompt, ["ocr"] = false };

    public override string Prompt(EvalDoc doc) => $"{PrePrompt}{PyText.Capitalize(doc.Text("question"))}{PostPrompt}";

    public override JsonNode? Target(EvalDoc doc) => doc.Json("answers");

    public override IReadOnlyList<TaskMetric> Metrics { get; } = [TaskMetric.Mean("exact_match")];

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring) =>
        new() { ["exact_match"] = VqaAnswer.Accuracy(response, doc.Texts("answers")) };
}
