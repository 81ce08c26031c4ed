namespace NanoVlm.Hub;

/// <summary>The kind of a Hub repository; it selects the URL prefix and the cache folder prefix.</summary>
public enum RepoType
{
    Model,
    Dataset,
}

internal static class RepoTypeNames
{
    /// <summary>"model" or "dataset", as the Hub API spells it.</summary>
    public static string Name(this RepoType type) => type == RepoType.Model ? "model" : "dataset";

    /// <summary>The URL prefix of file and git URLs: models have none, datasets live under "datasets/".</summary>
    public static string UrlPrefix(this RepoType type) => type == RepoType.Model ? "" : "datasets/";
}
