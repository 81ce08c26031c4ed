using System.Text.Json.Nodes;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>scienceqa</c> (ScienceQA-FULL, some questions without an image) and <c>scienceqa_img</c> (ScienceQA-IMG), lmms-eval
/// <c>tasks/scienceqa</c>: right when the stripped response is the letter (any case), or starts with an upper-case letter and a
/// period and that letter is right - LLaVA's rule.
/// </summary>
public sealed class ScienceQaTask(string name, string config) : BenchmarkTask
{
    public static ScienceQaTask Full() => new("scienceqa", "ScienceQA-FULL");
    public static ScienceQaTask WithImages() => new("scienceqa_img", "ScienceQA-IMG");

    public override string Name => name;
    public override string DatasetPath => "lmms-lab-encoder/ScienceQA";
    public override string? DatasetName => config;
    public override string Split => "test";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("question", Value), ("choices", List), ("answer", Value), ("hint", Value), ("image", Image));
    public override int? MaxNewTokens => 16;
    public override string PostPrompt => "\nAnswer with the option's letter from the given choices directly.";

    public override JsonObject PromptKwargs() => new() { ["format"] = "default", ["pre_prompt"] = PrePrompt, ["post_prompt"] = PostPrompt };

    public override string Prompt(EvalDoc doc)
    {
        // An empty hint adds nothing; a missing one would print as Python's "None", as the original's f-string does.
        var context = doc.TextOrNull("hint") is { } hint ? hint.Length > 0 ? $"Context: {hint}\n" : "" : "None";
        return $"{PrePrompt}{context}{doc.Text("question")}\n{Options(doc.Texts("choices"))}{PostPrompt}";
    }

    public override IReadOnlyList<string> ImageColumns(EvalDoc doc) => doc.ImageBytes("image") is null ? [] : ["image"];

    public override JsonNode? Target(EvalDoc doc) => Letter((int)doc.Integer("answer"));

    public override IReadOnlyList<TaskMetric> Metrics { get; } = [TaskMetric.Mean("exact_match")];

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var target = Letter((int)doc.Integer("answer")).ToLowerInvariant();
        var prediction = PyText.Strip(response);
        var right = prediction.ToLowerInvariant() == target
            || prediction.Length >= 2 && char.IsUpper(prediction[0]) && prediction[1] == '.' && char.ToLowerInvariant(prediction[0]).ToString() == target;
        return new JsonObject { ["exact_match"] = right ? 1.0 : 0.0 };
    }
}
