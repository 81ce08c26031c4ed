using System.Globalization;
using NanoVlm.Hub;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// A dataset named the same way everywhere (train, eval, data), optionally followed by <c>@weight</c> for mixtures:
/// <c>fashion-mnist[:folder]</c>, <c>cauldron:&lt;folder|file.parquet&gt;[,subset...]</c> (or several .parquet files separated by
/// commas), <c>finevision:</c> (the same layout with per-turn ratings), <c>mmstar:&lt;file.parquet|folder&gt;</c>,
/// <c>jsonl:&lt;file&gt;</c>, and <c>hf:&lt;dataset repo id&gt;[:subset,...]</c>, whose parquet files are fetched into the Hugging
/// Face cache (MMStar-shaped repos are read as MMStar, others as the Cauldron or FineVision). Rating columns, wherever present,
/// are filtered with the given <see cref="MinRatings"/>.
/// </summary>
public sealed record DataSource(string Kind, string? Location, IReadOnlyList<string> Subsets, double Weight)
{
    public static readonly string[] Kinds = ["fashion-mnist", "cauldron", "finevision", "mmstar", "jsonl", "hf"];

    public static DataSource Parse(string spec)
    {
        var text = spec;
        var weight = 1.0;
        var at = text.LastIndexOf('@');
        if (at > 0)
        {
            if (!double.TryParse(text[(at + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out weight) || !(weight > 0))
                throw NanoVlmException.For("Data", $"'{spec}': weight '{text[(at + 1)..]}' must be a positive number");
            text = text[..at];
        }
        var colon = text.IndexOf(':');
        var kind = (colon < 0 ? text : text[..colon]).ToLowerInvariant();
        var rest = colon < 0 ? "" : text[(colon + 1)..];
        if (!Kinds.Contains(kind))
            throw NanoVlmException.For("Data", $"'{spec}': unknown kind '{kind}' (use {string.Join(", ", Kinds)})");
        if (rest.Length == 0 && kind != "fashion-mnist")
            throw NanoVlmException.For("Data", $"'{spec}': {kind} needs a location, e.g. {kind}:path");
        return kind switch
        {
            "cauldron" or "finevision" when !rest.Split(',').All(p => p.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) =>
                new DataSource(kind, rest.Split(',')[0], rest.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[1..], weight),
            "hf" => new DataSource(kind, rest.Split(':')[0],
                rest.Contains(':') ? rest[(rest.IndexOf(':') + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [], weight),
            _ => new DataSource(kind, rest.Length == 0 ? null : rest, [], weight),
        };
    }

    /// <summary>Opens the dataset; Fashion-MNIST gives its train or test split.</summary>
    public IVqaDataset Open(bool trainSplit = true, HubClient? hub = null, CancellationToken cancel = default, MinRatings? minRatings = null) => Kind switch
    {
        "fashion-mnist" => FashionMnistDataset.Load(Location ?? Environment.GetEnvironmentVariable("NANOVLM_FASHION_MNIST"), trainSplit),
        "cauldron" or "finevision" when Location!.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) =>
            CauldronDataset.FromFiles(Location.Split(','), minRatings),
        "cauldron" or "finevision" => CauldronDataset.Open(Location!, Subsets.Count == 0 ? null : Subsets, minRatings),
        "mmstar" => MmStarDataset.Open(Location!),
        "jsonl" => new JsonlDataset(Location!),
        "hf" => OpenHub(hub ?? throw new NanoVlmException($"hf:{Location}: the Hub client is not available here"), minRatings, cancel),
        _ => throw new InvalidOperationException(Kind),
    };

    IVqaDataset OpenHub(HubClient hub, MinRatings? minRatings, CancellationToken cancel)
    {
        var patterns = Subsets.Count == 0 ? new[] { "*.parquet" } : Subsets.Select(s => $"{s}/*.parquet").ToArray();
        var folder = hub.DownloadSnapshotAsync(Location!, allowPatterns: patterns, type: RepoType.Dataset, ct: cancel).GetAwaiter().GetResult();
        var files = Directory.GetFiles(folder, "*.parquet", SearchOption.AllDirectories);
        if (files.Length == 0) throw new NanoVlmException($"hf:{Location}: no parquet files{(Subsets.Count > 0 ? $" in {string.Join(", ", Subsets)}" : "")}");
        return ParquetTable.HasColumns(files[0], ["question", "answer", "image"])
            ? MmStarDataset.Open(files.Length == 1 ? files[0] : folder)
            : CauldronDataset.Open(folder, Subsets.Count == 0 ? null : Subsets, minRatings);
    }
}
