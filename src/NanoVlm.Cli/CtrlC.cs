namespace NanoVlm.Cli;

/// <summary>Turns the first Ctrl+C into a cancellation (long commands save and exit cleanly); a second one kills the process.</summary>
public static class CtrlC
{
    public static CancellationTokenSource Token(CancellationToken outer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Console.CancelKeyPress += (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            Console.Error.WriteLine("stopping after the current step (Ctrl+C again to kill)...");
            cts.Cancel();
        };
        return cts;
    }
}
