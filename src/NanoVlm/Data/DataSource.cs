using System.Globalization;
using NanoVlm.Hub;

namespace NanoVlm.Data;

/// <summary>
/// A dataset named on the command line: <c>kind:location[:subset,subset...][@weight]</c>. Kinds: <c>fashion-mnist[:folder]</c>,
/// <c>cauldron:&lt;folder|file.parquet,...|repo id&gt;[:subsets]</c>, <c>mmstar:&lt;file|folder|repo id&gt;</c>,
/// <c>jsonl:&lt;file&gt;</c>. A location that does not exist locally is a Hugging Face dataset repo id.
/// </summary>
public sealed record DataSource(string Kind, string? Location, IReadOnlyList<string> Subsets, double Weight)
{
    public static readonly string[] Kinds = ["fashion-mnist", "cauldron", "mmstar", "jsonl"];

    public static DataSource Parse(string spec)
    {
        var text = spec;
        var weight = 1.0;
        var at = text.LastIndexOf('@');
        if (at > 0)
        {
            if (!double.TryParse(text[(at + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out weight) || !(weight > 0))
                throw new NanoVlmException($"--data '{spec}': weight '{text[(at + 1)..]}' must be a positive number");
            text = text[..at];
        }
        var parts = text.Split(':', 3);
        var kind = parts[0].ToLowerInvariant();
        if (!Kinds.Contains(kind))
            throw new NanoVlmException($"--data '{spec}': unknown kind '{parts[0]}' (use {string.Join(", ", Kinds)})");
        var location = parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null;
        if (location is null && kind != "fashion-mnist")
            throw new NanoVlmException($"--data '{spec}': {kind} needs a location, e.g. {kind}:path");
        var subsets = parts.Length > 2 ? parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
        return new DataSource(kind, location, subsets, weight);
    }

    /// <summary>Opens the dataset; Fashion-MNIST gives its train or test split.</summary>
    public IVqaDataset Open(bool trainSplit = true, HubClient? hub = null, CancellationToken cancel = default) => Kind switch
    {
        "fashion-mnist" => FashionMnistDataset.Load(Location ?? Environment.GetEnvironmentVariable("NANOVLM_FASHION_MNIST"), trainSplit),
        "cauldron" => OpenCauldron(hub, cancel),
        "mmstar" => MmStarDataset.Open(Local(hub, ["*.parquet", "**/*.parquet"], cancel)),
        "jsonl" => new JsonlDataset(Location!),
        _ => throw new InvalidOperationException(Kind),
    };

    IVqaDataset OpenCauldron(HubClient? hub, CancellationToken cancel)
    {
        var files = Location!.Split(',');
        if (files.Length > 1 || Location.EndsWith(".parquet", StringComparison.Ordinal)) return CauldronDataset.FromFiles(files);
        var patterns = Subsets.Count == 0 ? new[] { "*/*.parquet" } : Subsets.Select(s => $"{s}/*.parquet").ToArray();
        return CauldronDataset.Open(Local(hub, patterns, cancel), Subsets.Count == 0 ? null : Subsets);
    }

    /// <summary>The location as a local path, downloading the dataset repo's matching files when it is not one.</summary>
    string Local(HubClient? hub, IReadOnlyCollection<string> patterns, CancellationToken cancel)
    {
        if (File.Exists(Location) || Directory.Exists(Location)) return Location!;
        if (hub is null) throw new NanoVlmException($"{Location}: no such file or folder");
        return hub.DownloadSnapshotAsync(Location!, allowPatterns: patterns, type: RepoType.Dataset, ct: cancel).GetAwaiter().GetResult();
    }
}
