using System.Collections.Concurrent;
using System.Security.Cryptography;
using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

/// <summary>A repository of the fake Hub: its commits (each a full file set) and its branches.</summary>
internal sealed class FakeRepo(string id, RepoType type)
{
    public string Id { get; } = id;
    public RepoType Type { get; } = type;
    public bool Gated { get; init; }
    public bool Private { get; init; }
    public ConcurrentDictionary<string, Dictionary<string, byte[]>> Snapshots { get; } = new();
    public ConcurrentDictionary<string, string> Branches { get; } = new();

    public string Head => Branches["main"];

    public string Commit(string branch, Dictionary<string, byte[]> files)
    {
        var sha = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        Snapshots[sha] = new Dictionary<string, byte[]>(files);
        Branches[branch] = sha;
        return sha;
    }

    public string? Resolve(string revision) =>
        Branches.TryGetValue(revision, out var sha) ? sha : Snapshots.ContainsKey(revision) ? revision : null;
}
