using NanoVlm.Data;
using NanoVlm.Hub;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

/// <summary>
/// A task's documents: the parquet files of its split (and config), from the task's Hub dataset through the Hub client and its cache,
/// or from another repo or a local file or folder. A document's id is its row number in the split.
/// </summary>
public sealed class TaskDataset
{
    static readonly string[] SplitNames = ["train", "validation", "val", "test", "dev"];
    readonly ParquetTable? table;
    readonly IReadOnlyList<IReadOnlyDictionary<string, object?>>? rows;

    TaskDataset(BenchmarkTask task, string origin, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        (Task, Origin, this.rows) = (task, origin, rows);
        if (rows.Count == 0) throw new NanoVlmException($"{origin}: the {task.Split} split of task {task.Name} has no documents");
        if (task.Columns.Keys.FirstOrDefault(c => !rows[0].ContainsKey(c)) is { } missing)
            throw new NanoVlmException($"{origin}: missing column '{missing}', which task {task.Name} reads");
    }

    TaskDataset(BenchmarkTask task, string origin, IReadOnlyList<string> files)
    {
        Task = task;
        Origin = origin;
        foreach (var (column, _) in task.Columns.Where(c => c.Value is null))
            foreach (var file in files.Where(f => !ParquetTable.HasColumns(f, [column])))
                throw new NanoVlmException($"{file}: missing column '{column}', which task {task.Name} reads");
        try
        {
            table = new ParquetTable(files, task.Columns.Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!.Value));
        }
        catch (NanoVlmException e) when (e.Message.Contains(": missing column", StringComparison.Ordinal))
        {
            throw new NanoVlmException($"{e.Message}; task {task.Name} reads {string.Join(", ", task.Columns.Keys)}", e);
        }
        if (table.Count == 0) throw new NanoVlmException($"{origin}: the {task.Split} split of task {task.Name} has no documents");
    }

    public BenchmarkTask Task { get; }
    /// <summary>Where the documents came from: a repo id (with its config) or a path.</summary>
    public string Origin { get; }
    public int Count => table?.Count ?? rows!.Count;

    /// <summary>Documents held in memory (generated ones, for benchmarks), each a column -> value row.</summary>
    public static TaskDataset FromRows(BenchmarkTask task, string origin, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows) => new(task, origin, rows);

    /// <summary>
    /// Opens the task's documents. <paramref name="location"/> (optional) is a local parquet file or folder, or another Hub dataset
    /// repo; a folder or repo is narrowed to the task's config folder (when it has one) and the files named after its split.
    /// </summary>
    public static TaskDataset Open(BenchmarkTask task, string? location, HubClient? hub, CancellationToken cancel = default)
    {
        if (location is not null && IsLocal(location))
        {
            if (File.Exists(location)) return new TaskDataset(task, location, [location]);
            if (!Directory.Exists(location)) throw NanoVlmException.For("Dataset", $"{location}: no such file or folder");
            var local = Directory.GetFiles(location, "*.parquet", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(location, f).Replace('\\', '/')).ToList();
            return new TaskDataset(task, location, [.. Choose(local, task, location).Select(f => Path.Combine(location, f))]);
        }
        var repo = location ?? task.DatasetPath;
        if (hub is null) throw new NanoVlmException($"{repo}: the Hub client is needed to read task {task.Name}'s dataset");
        string folder;
        IReadOnlyList<string> chosen = [];
        try
        {
            folder = hub.DownloadSnapshotAsync(repo, files => chosen = Choose(files, task, repo), type: RepoType.Dataset, ct: cancel).GetAwaiter().GetResult();
        }
        catch (NanoVlmException e) when (hub.Options.Offline)
        {
            // Offline, the file list is the cache's: what is missing may simply never have been fetched.
            throw new NanoVlmException($"{e.Message} (offline: HF_HUB_OFFLINE is set, so only the Hugging Face cache was searched; run once online to fetch them)", e);
        }
        // The files chosen from the repo's list, now in the snapshot folder (which may also hold other splits fetched before).
        return new TaskDataset(task, task.DatasetName is { } config ? $"{repo} ({config})" : repo, [.. chosen.Select(f => Path.Combine(folder, f))]);
    }

    static bool IsLocal(string location) => File.Exists(location) || Directory.Exists(location) || !HubNames.IsRepoId(location)
        || location.StartsWith('.') || location.StartsWith('/') || location.StartsWith('~') || location.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The parquet files of the task's config and split: under a folder named after the config (a layout with other config folders but
    /// not this one is refused), then those whose
    /// name (or folder) is the split; files that name no split at all (MMStar's single file) are the split.
    /// </summary>
    public static IReadOnlyList<string> Choose(IReadOnlyList<string> files, BenchmarkTask task, string where)
    {
        var parquet = files.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        if (parquet.Count == 0) throw new NanoVlmException($"{where}: no parquet files for task {task.Name}");
        static string[] Folders(string f) => f.Split('/')[..^1];
        if (task.DatasetName is { } config)
        {
            // Files of the config's folder; without one, only a layout with no config folders (files at the top or under data/).
            var inConfig = parquet.Where(f => Folders(f).Contains(config)).ToList();
            parquet = inConfig.Count > 0 ? inConfig : parquet.Where(f => Folders(f) is [] or ["data", ..]).ToList();
            if (parquet.Count == 0)
                throw new NanoVlmException($"{where}: no parquet files of config '{config}', which task {task.Name} reads; found {string.Join(", ", files.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)).Take(8))}");
        }
        static bool Names(string file, string split) => Folders(file).Contains(split)
            || Path.GetFileName(file) is var name && (name.StartsWith(split + "-", StringComparison.Ordinal) || name.StartsWith(split + ".", StringComparison.Ordinal)
                || name.StartsWith(split + "_", StringComparison.Ordinal));
        var inSplit = parquet.Where(f => Names(f, task.Split)).ToList();
        if (inSplit.Count > 0) return inSplit;
        if (!parquet.Any(f => SplitNames.Any(s => Names(f, s)))) return parquet;
        throw new NanoVlmException($"{where}: no parquet file of split '{task.Split}'{(task.DatasetName is { } c ? $" (config {c})" : "")}, which task {task.Name} reads; found {string.Join(", ", parquet.Take(8))}");
    }

    /// <summary>The first <paramref name="limit"/> documents (all when null), in order, one row group in memory at a time.</summary>
    public IEnumerable<EvalDoc> Docs(int? limit = null, CancellationToken cancel = default)
    {
        var count = Math.Min(Count, limit ?? int.MaxValue);
        if (table is null)
        {
            for (var i = 0; i < count; i++) yield return new EvalDoc(i, rows![i], $"{Task.Name} doc {i}");
            yield break;
        }
        for (var group = 0; group < table.GroupStarts.Count && table.GroupStarts[group] < count; group++)
        {
            cancel.ThrowIfCancellationRequested();
            var start = table.GroupStarts[group];
            var rows = table.ReadGroup(group);
            for (var i = 0; i < rows.Count && start + i < count; i++)
                yield return new EvalDoc(start + i, rows[i].ToDictionary(kv => kv.Key, kv => (object?)kv.Value), $"{Task.Name} doc {start + i}");
        }
    }
}
