using System.Text.Json.Nodes;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// One lmms-eval task: where its documents come from (the YAML's <c>dataset_path</c>, <c>dataset_name</c>, <c>test_split</c>), how a
/// document becomes a prompt (<c>doc_to_text</c> with the default <c>pre_prompt</c>/<c>post_prompt</c>, <c>doc_to_visual</c>), how
/// the model answers (<c>generation_kwargs</c>), and how an answer is filtered, scored and aggregated.
/// </summary>
public abstract class BenchmarkTask
{
    /// <summary>Tokens generated when the task's YAML sets none: the default of nanoVLM's lmms-eval wrapper.</summary>
    public const int DefaultMaxNewTokens = 50;

    public abstract string Name { get; }
    public abstract string DatasetPath { get; }
    public virtual string? DatasetName => null;
    public abstract string Split { get; }

    /// <summary>Columns a document must have, with their parquet kind (a value, a struct such as an image, or a list; null: any).</summary>
    public abstract IReadOnlyDictionary<string, SchemaType?> Columns { get; }

    public virtual int? MaxNewTokens => null;
    /// <summary>Stop strings: the answer is cut before the first of them. lmms-eval's default is the few-shot delimiter "\n\n".</summary>
    public virtual IReadOnlyList<string> Until => ["\n\n"];
    public virtual string PrePrompt => "";
    public virtual string PostPrompt => "";

    /// <summary>The YAML's default <c>lmms_eval_specific_kwargs</c>, for the <c>configs</c> section of <c>results.json</c>.</summary>
    public virtual JsonObject PromptKwargs() => new() { ["pre_prompt"] = PrePrompt, ["post_prompt"] = PostPrompt };

    public abstract string Prompt(EvalDoc doc);

    /// <summary>The image columns of <c>doc_to_visual</c>, in order; a null image is left out.</summary>
    public virtual IReadOnlyList<string> ImageColumns(EvalDoc doc) => ["image"];

    /// <summary><c>doc_to_target</c>, as the samples log records it.</summary>
    public abstract JsonNode? Target(EvalDoc doc);

    /// <summary>The filter pipeline's name in metric keys (<c>exact_match,flexible-extract</c>); "none" takes the response as it is.</summary>
    public virtual string FilterName => "none";
    public virtual string Filter(string response) => response;

    public abstract IReadOnlyList<TaskMetric> Metrics { get; }

    /// <summary>
    /// <c>process_results</c>: the per-document values of the metrics this document contributes to, from its filtered response
    /// (already stripped, as lmms-eval strips every generation).
    /// </summary>
    public abstract JsonObject Process(EvalDoc doc, string response, TaskScoring scoring);

    /// <summary>Scores below the headline metrics (per subject, per category), for the console and <c>results.json</c>.</summary>
    public virtual JsonObject? Breakdown(IReadOnlyList<JsonObject> processed) => null;

    /// <summary>The generation settings as the YAML states them, for the <c>configs</c> section of <c>results.json</c>.</summary>
    public JsonObject GenerationKwargs() => new()
    {
        ["until"] = new JsonArray([.. Until.Select(u => JsonValue.Create(u))]),
        ["max_new_tokens"] = MaxNewTokens ?? DefaultMaxNewTokens,
        ["temperature"] = 0.0,
        ["do_sample"] = false,
    };

    /// <summary>
    /// The stripped question with the pre and post prompts, MME's " Please answer yes or no." dropped wherever one is added: the
    /// <c>doc_to_text</c> of MME and MMStar (which copied it).
    /// </summary>
    private protected string QuestionWithoutYesNo(EvalDoc doc)
    {
        const string yesNo = " Please answer yes or no.";
        var question = PyText.Strip(doc.Text("question"));
        if (PrePrompt.Length > 0) question = PrePrompt + question.Replace(yesNo, "");
        if (PostPrompt.Length > 0) question = question.Replace(yesNo, "") + PostPrompt;
        return question;
    }

    private protected static string Letter(int i) => ((char)('A' + i)).ToString();

    private protected static string Options(IReadOnlyList<string> choices) =>
        string.Join("\n", choices.Select((c, i) => $"{Letter(i)}. {c}"));

    private protected static Dictionary<string, SchemaType?> Schema(params (string Name, SchemaType? Kind)[] columns) =>
        columns.ToDictionary(c => c.Name, c => c.Kind);

    private protected const SchemaType Value = SchemaType.Data, Image = SchemaType.Struct, List = SchemaType.List;
}

/// <summary>State shared by the documents of one scoring pass: MMMU's random fallback, seeded as lmms-eval's default <c>--seed</c> seeds Python's <c>random</c> (0).</summary>
public sealed class TaskScoring
{
    public PythonRandom Random { get; } = new(0);
}
