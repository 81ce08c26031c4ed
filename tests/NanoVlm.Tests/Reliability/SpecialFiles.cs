using System.Diagnostics;

namespace NanoVlm.Tests.Reliability;

/// <summary>FIFOs for tests (made with mkfifo(1)), and a way to run a reader that must not block on one.</summary>
static class SpecialFiles
{
    public static string Fifo(string path)
    {
        using var p = Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }

    /// <summary>Runs <paramref name="read"/> and fails if it has not returned (or thrown) within 10 s; a reader blocked on
    /// <paramref name="fifo"/> is then released by opening its other end.</summary>
    public static void Within10Seconds(Action read, string? fifo = null)
    {
        var task = Task.Run(read);
        if (task.Wait(TimeSpan.FromSeconds(10))) return;
        if (fifo is not null)
            using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
        Assert.Fail("the reader blocked on a special file");
    }
}
