namespace NanoVlm.Runtime;

/// <summary>
/// Writes files so that a crash never leaves a half-written file: write to a temporary sibling, flush, rename. A symlink is followed
/// (its target is replaced, the link stays); a FIFO or device (<c>/dev/stdout</c>, <c>/dev/null</c>, a pipe) is written through,
/// never replaced; a folder is refused.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        switch (RegularFile.Stat(full).Kind)
        {
            case FileKind.Directory:
                throw new NanoVlmException($"{path}: is a folder, not a file to write");
            case FileKind.Missing or FileKind.Regular:
                Replace(FinalTarget(full), write);
                break;
            default:
                using (var special = new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1))
                {
                    write(special);
                    special.Flush();
                }
                break;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    static void Replace(string full, Action<Stream> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>The file a chain of symlinks ends at (the path itself when it is no link).</summary>
    static string FinalTarget(string full) =>
        new FileInfo(full).LinkTarget is null ? full : File.ResolveLinkTarget(full, returnFinalTarget: true)!.FullName;
}
