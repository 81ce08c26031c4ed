namespace NanoVlm.Hub;

/// <summary>What a request is about, so that an error message can name it.</summary>
internal sealed record HubTarget(string RepoId, RepoType Type, string? Revision = null, string? Path = null)
{
    public string Repo => $"{Type.Name()} repo '{RepoId}'";

    public override string ToString() =>
        (Path is null ? Repo : $"'{Path}' in {Repo}") + (Revision is null ? "" : $" at revision '{Revision}'");
}
