using NanoVlm.Hub;

namespace NanoVlm.Cli;

/// <summary>Renders Hub downloads on stderr: a line per file, rewritten in place on a terminal, with size and speed.</summary>
public sealed class ConsoleDownloadProgress : IProgress<DownloadProgress>
{
    private readonly Lock _gate = new();

    public void Report(DownloadProgress p)
    {
        if (!p.Completed && Console.IsErrorRedirected)
            return;
        var size = p.TotalBytes is { } total ? $"{Bytes(p.BytesDone)} / {Bytes(total)}" : Bytes(p.BytesDone);
        var line = $"{p.FileName}  {size}  {Bytes((long)p.BytesPerSecond)}/s";
        lock (_gate)
        {
            if (Console.IsErrorRedirected)
                Console.Error.WriteLine(line);
            else
                Console.Error.Write($"\r\u001b[2K{line}{(p.Completed ? "\n" : "")}");
        }
    }

    private static string Bytes(long n) => n switch
    {
        >= 1L << 30 => $"{n / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{n / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{n / 1024.0:0.0} KiB",
        _ => $"{n} B",
    };
}
