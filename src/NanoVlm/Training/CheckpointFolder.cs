namespace NanoVlm.Training;

/// <summary>A checkpoint folder replaced whole: written beside it, then swapped in, so a crash never leaves half of one.</summary>
internal static class CheckpointFolder
{
    public static void Replace(string folder, Action<string> write)
    {
        var tmp = folder + $".tmp-{Environment.ProcessId}";
        var old = folder + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        write(tmp);
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(folder)) Directory.Move(folder, old);
        Directory.Move(tmp, folder);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }
}
