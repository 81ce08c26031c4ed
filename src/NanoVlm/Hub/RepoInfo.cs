namespace NanoVlm.Hub;

/// <summary>A repository revision as the Hub API lists it: the commit sha and every file path in it.</summary>
public sealed record RepoInfo(string Sha, IReadOnlyList<string> Files);
