using NanoVlm.Runtime;
namespace NanoVlm.Hub;

/// <summary>
/// One repository's folder in the cache shared with <c>huggingface_hub</c>:
/// <c>{cache}/{type}s--{org}--{name}/</c> with <c>blobs/{etag}</c>, <c>snapshots/{commit}/{path}</c> (relative symlinks to the blobs)
/// and <c>refs/{revision}</c> (the commit sha, no newline).
/// </summary>
internal sealed class HubCache
{
    private readonly string _cacheDir;
    private readonly string _folderName;

    public HubCache(string cacheDir, string repoId, RepoType type)
    {
        _cacheDir = Path.GetFullPath(cacheDir);
        _folderName = $"{type.Name()}s--{repoId.Replace("/", "--")}";
        Root = Path.Combine(_cacheDir, _folderName);
    }

    public string Root { get; }

    public string Blob(string etag) => Path.Combine(Root, "blobs", etag);

    public string Snapshot(string commit) => Path.Combine(Root, "snapshots", commit);

    public string Pointer(string commit, string path) => Path.Combine(Snapshot(commit), path);

    /// <summary>The commit a branch or tag pointed to when last seen online; a commit sha is its own answer.</summary>
    public string? ResolveCommit(string revision)
    {
        if (HubNames.IsCommit(revision))
            return revision;
        var file = Path.Combine(Root, "refs", revision);
        if (!File.Exists(file))
            return null;
        var commit = RegularFile.ReadAllText(file, RegularFile.MaxConfigBytes, "cached ref").Trim();
        return HubNames.IsCommit(commit) ? commit : null;
    }

    public void WriteRef(string revision, string commit)
    {
        if (revision == commit)
            return;
        var file = Path.Combine(Root, "refs", revision);
        EnsureInside(file);
        if (!File.Exists(file) || RegularFile.ReadAllText(file, RegularFile.MaxConfigBytes, "cached ref") != commit)
            AtomicFile.WriteAllText(file, commit);
    }

    /// <summary>The snapshot file if it exists and leads to a blob of this repository.</summary>
    public string? Cached(string commit, string path)
    {
        var pointer = Pointer(commit, path);
        if (!File.Exists(pointer))
            return null;
        EnsureInside(pointer);
        var target = new FileInfo(pointer).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        if (target is not null && !target.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new HubException(HubErrorKind.Unsafe, $"refusing cached file {pointer}: it links outside {Root}");
        return pointer;
    }

    /// <summary>Points <c>snapshots/{commit}/{path}</c> at <c>blobs/{etag}</c> with a relative link, as <c>huggingface_hub</c> does.</summary>
    public string Link(string commit, string path, string etag)
    {
        var pointer = Pointer(commit, path);
        EnsureInside(pointer);
        var dir = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(dir);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget is not null)
            File.Delete(pointer);
        File.CreateSymbolicLink(pointer, Path.GetRelativePath(dir, Blob(etag)));
        return pointer;
    }

    /// <summary>An exclusive lock on one blob, at the path <c>huggingface_hub</c> locks, so two processes never write the same blob.</summary>
    public async Task<IDisposable> LockAsync(string etag, CancellationToken ct)
    {
        var file = Path.Combine(_cacheDir, ".locks", _folderName, etag + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        while (true)
        {
            try
            {
                return new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(file))
            {
                await Task.Delay(200, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Refuses a path that leaves this repository's folder, or that passes through a symlinked folder (which could lead anywhere).</summary>
    public void EnsureInside(string path)
    {
        var full = Path.GetFullPath(path);
        if (!full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new HubException(HubErrorKind.Unsafe, $"refusing cache path {full}: outside {Root}");
        for (var dir = Path.GetDirectoryName(full); dir is not null && dir.Length > Root.Length; dir = Path.GetDirectoryName(dir))
            if (new DirectoryInfo(dir).LinkTarget is not null)
                throw new HubException(HubErrorKind.Unsafe, $"refusing cache path {full}: {dir} is a symlink");
    }
}
