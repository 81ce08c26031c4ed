using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>The tasks by their lmms-eval names, and <c>nanovlm</c>: the nine nanoVLM evaluates every checkpoint on.</summary>
public static class BenchmarkTasks
{
    static readonly Func<BenchmarkTask>[] Factories =
    [
        () => new MmStarTask(), () => new MmmuTask(), () => new OcrBenchTask(), () => new TextVqaTask(), DocVqaTask.DocVqa,
        ScienceQaTask.Full, ScienceQaTask.WithImages, () => new MmeTask(), DocVqaTask.InfographicVqa, () => new ChartQaTask(),
        () => new Ai2dTask(), () => new PopeTask(),
    ];

    /// <summary>nanoVLM's <c>lmms_eval_tasks</c> default, in its order.</summary>
    public static readonly IReadOnlyList<string> NanoVlm =
        ["mmstar", "mmmu_val", "ocrbench", "textvqa_val", "docvqa_val", "scienceqa", "mme", "infovqa_val", "chartqa"];

    public static IReadOnlyList<string> Names { get; } = [.. Factories.Select(f => f().Name)];

    public static BenchmarkTask Get(string name) =>
        Factories.Select(f => f()).FirstOrDefault(t => t.Name == name)
        ?? throw NanoVlmException.For("Tasks", $"unknown task '{name}' (known: {string.Join(", ", Names)}, or nanovlm for nanoVLM's nine)");

    /// <summary>A comma-separated list of task names (and groups) to tasks, each once, in the order given.</summary>
    public static IReadOnlyList<BenchmarkTask> Parse(string list)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .SelectMany(n => n == "nanovlm" ? NanoVlm : [n]).Distinct().ToList();
        if (names.Count == 0) throw NanoVlmException.For("Tasks", $"'{list}' names no task");
        return names.Select(Get).ToList();
    }
}
