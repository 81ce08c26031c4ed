using NanoVlm.Data;
using NanoVlm.Hub;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>
/// Several tasks in one run, as <c>lmms_eval --tasks a,b,c</c>: every dataset is opened (and checked) before the first answer is
/// generated, so a wrong task name, dataset or responses file fails in a second, not after an hour.
/// </summary>
public static class BenchmarkSuite
{
    /// <summary><c>TASK=VALUE</c> pairs (dataset locations, responses files) by task; a value without <c>TASK=</c> gets <paramref name="taskOf"/>'s task.</summary>
    public static IReadOnlyDictionary<string, string> Assignments(IEnumerable<string> specs, string parameter, Func<string, string?>? taskOf = null)
    {
        var map = new Dictionary<string, string>();
        foreach (var spec in specs)
        {
            var eq = spec.IndexOf('=');
            var (task, value) = eq > 0 && BenchmarkTasks.Names.Contains(spec[..eq]) ? (spec[..eq], spec[(eq + 1)..]) : (taskOf?.Invoke(spec), spec);
            if (task is null)
                throw NanoVlmException.For(parameter, eq > 0
                    ? $"'{spec}': unknown task '{spec[..eq]}' (known: {string.Join(", ", BenchmarkTasks.Names)})"
                    : $"'{spec}': say which task it is for, as TASK={spec}");
            if (value.Length == 0) throw NanoVlmException.For(parameter, $"'{spec}': nothing after '='");
            if (!map.TryAdd(task, value)) throw NanoVlmException.For(parameter, $"task {task} is given twice ('{map[task]}' and '{value}')");
        }
        return map;
    }

    public static IReadOnlyList<TaskDataset> Open(IReadOnlyList<BenchmarkTask> tasks, IReadOnlyDictionary<string, string> locations, HubClient? hub,
        CancellationToken cancel = default)
    {
        foreach (var name in locations.Keys.Where(n => tasks.All(t => t.Name != n)))
            throw NanoVlmException.For("Dataset", $"{name}={locations[name]}: task {name} is not among the tasks evaluated ({string.Join(", ", tasks.Select(t => t.Name))})");
        return tasks.Select(t => TaskDataset.Open(t, locations.GetValueOrDefault(t.Name), hub, cancel)).ToList();
    }

    /// <summary>Each task's saved answers (file by task name) read, checked against its documents, and scored.</summary>
    public static IReadOnlyList<TaskResult> Rescore(IReadOnlyList<TaskDataset> datasets, IReadOnlyDictionary<string, string> files,
        CancellationToken cancel = default)
    {
        var answers = datasets.Select(d => LmmsEvalLog.ReadResponses(files[d.Task.Name], d)).ToList();
        return datasets.Select((d, i) => BenchmarkRunner.Rescore(d, answers[i], cancel)).ToList();
    }
}
