using System.Runtime.InteropServices;

namespace NanoVlm.Cli;

/// <summary>
/// Turns the first Ctrl+C or SIGTERM (what <c>timeout</c>, <c>docker stop</c> and schedulers send) into a cancellation, so long
/// commands save and exit cleanly; a second one kills the process.
/// </summary>
public static class CtrlC
{
    /// <summary>Kept alive for the life of the process: a collected registration stops handling the signal.</summary>
    static readonly List<PosixSignalRegistration> Registrations = [];

    public static CancellationTokenSource Token(CancellationToken outer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Console.CancelKeyPress += (_, e) => e.Cancel = Stop(cts, "Ctrl+C");
        Registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => context.Cancel = Stop(cts, "SIGTERM")));
        return cts;
    }

    /// <summary>Cancels on the first signal (true: the signal is handled); on the next one returns false, so the default action kills.</summary>
    static bool Stop(CancellationTokenSource cts, string signal)
    {
        if (cts.IsCancellationRequested) return false;
        Console.Error.WriteLine($"stopping after the current step ({signal} again to kill)...");
        cts.Cancel();
        return true;
    }
}
