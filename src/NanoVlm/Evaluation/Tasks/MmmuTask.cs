using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Parquet.Schema;

namespace NanoVlm.Evaluation;

/// <summary>
/// <c>mmmu_val</c> (lmms-eval <c>tasks/mmmu</c>): 900 college-level questions over 30 subjects, up to seven images each (those the
/// question or options name as <c>&lt;image N&gt;</c>); multiple-choice answers parsed with <see cref="MmmuAnswer.ParseChoice"/>,
/// open ones with <see cref="MmmuAnswer.ParseOpen"/>; the score is the accuracy over all questions, rounded to five places.
/// </summary>
public sealed partial class MmmuTask : BenchmarkTask
{
    const string ChoicePrompt = "Answer with the option's letter from the given choices directly.";
    const string OpenPrompt = "Answer the question using a single word or phrase.";

    static readonly (string Domain, string[] Subjects)[] Domains =
    [
        ("Art and Design", ["Art", "Art_Theory", "Design", "Music"]),
        ("Business", ["Accounting", "Economics", "Finance", "Manage", "Marketing"]),
        ("Science", ["Biology", "Chemistry", "Geography", "Math", "Physics"]),
        ("Health and Medicine", ["Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy", "Public_Health"]),
        ("Humanities and Social Science", ["History", "Literature", "Sociology", "Psychology"]),
        ("Tech and Engineering", ["Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics", "Energy_and_Power", "Materials", "Mechanical_Engineering"]),
    ];

    public override string Name => "mmmu_val";
    public override string DatasetPath => "lmms-lab-encoder/MMMU";
    public override string Split => "validation";
    public override IReadOnlyDictionary<string, SchemaType?> Columns { get; } = Schema(
        ("id", Value), ("question", Value), ("options", Value), ("answer", Value), ("question_type", Value), ("image_1", Image));
    public override int? MaxNewTokens => 128;

    public override JsonObject PromptKwargs() => new()
    {
        ["prompt_type"] = "format", ["multiple_choice_prompt"] = ChoicePrompt, ["open_ended_prompt"] = OpenPrompt,
    };

    static bool IsChoice(EvalDoc doc) => doc.Text("question_type") == "multiple-choice";

    /// <summary>The options column holds a Python list literal ("['a', 'b']").</summary>
    static IReadOnlyList<string> OptionList(EvalDoc doc) => PythonLiteral.StringList(doc.Text("options"), $"{doc.Source}: column 'options'");

    public override string Prompt(EvalDoc doc) => IsChoice(doc)
        ? $"{doc.Text("question")}\n{Options(OptionList(doc))}\n\n{ChoicePrompt}"
        : $"{doc.Text("question")}\n\n{OpenPrompt}";

    /// <summary>The images the question (and a multiple-choice question's options) names, each once, in name order.</summary>
    public override IReadOnlyList<string> ImageColumns(EvalDoc doc)
    {
        var text = IsChoice(doc) ? $"{doc.Text("question")}\n{Options(OptionList(doc))}" : doc.Text("question");
        return ImageTag().Matches(text).Select(m => $"image_{m.Groups[1].Value}").Distinct().Order(StringComparer.Ordinal).ToList();
    }

    public override JsonNode? Target(EvalDoc doc) => doc.Text("answer");

    public override IReadOnlyList<TaskMetric> Metrics { get; } = [new("mmmu_acc", Overall)];

    public override JsonObject Process(EvalDoc doc, string response, TaskScoring scoring)
    {
        var parsed = IsChoice(doc)
            ? MmmuAnswer.ParseChoice(response, OptionList(doc), scoring.Random)
            : MmmuAnswer.ParseOpen(response) is { Count: > 0 } open ? open[0].ToString() : "";
        var id = doc.Text("id");
        return new JsonObject
        {
            ["mmmu_acc"] = new JsonObject
            {
                ["id"] = id, ["subdomain"] = MmmuAnswer.Subject(id), ["question_type"] = doc.Text("question_type"),
                ["answer"] = doc.Text("answer"), ["parsed_pred"] = new JsonArray(parsed),
            },
        };
    }

    static bool Correct(JsonNode r)
    {
        var (gold, prediction) = ((string)r["answer"]!, (string)r["parsed_pred"]![0]!);
        return (string)r["question_type"]! == "multiple-choice" ? MmmuAnswer.JudgeChoice(gold, prediction) : MmmuAnswer.JudgeOpen(gold, prediction);
    }

    static double Overall(IReadOnlyList<JsonNode> results) =>
        Round5(results.Count == 0 ? 0 : (double)results.Count(Correct) / results.Count);

    static double Round5(double x) => (double)Math.Round((decimal)x, 5, MidpointRounding.ToEven);

    public override JsonObject? Breakdown(IReadOnlyList<JsonObject> processed)
    {
        var results = processed.Select(p => p["mmmu_acc"]!).ToList();
        var bySubject = results.GroupBy(r => (string)r["subdomain"]!).ToDictionary(g => g.Key, g => (Num: g.Count(), Correct: g.Count(Correct)));
        var breakdown = new JsonObject();
        foreach (var (domain, subjects) in Domains)
        {
            var present = subjects.Where(bySubject.ContainsKey).ToList();
            var (num, correct) = (present.Sum(s => bySubject[s].Num), present.Sum(s => bySubject[s].Correct));
            breakdown[$"Overall-{domain}"] = new JsonObject { ["num"] = num, ["acc"] = Round5(num == 0 ? 0 : (double)correct / num) };
            foreach (var s in present)
                breakdown[s] = new JsonObject { ["num"] = bySubject[s].Num, ["acc"] = Round5((double)bySubject[s].Correct / bySubject[s].Num) };
        }
        breakdown["Overall"] = new JsonObject { ["num"] = results.Count, ["acc"] = Overall(results) };
        return breakdown;
    }

    [GeneratedRegex(@"<image (\d+)>")]
    private static partial Regex ImageTag();
}
