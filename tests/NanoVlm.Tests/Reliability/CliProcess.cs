using System.Diagnostics;

namespace NanoVlm.Tests.Reliability;

/// <summary>Runs the real <c>nanovlm</c> command line (NanoVlm.Cli.dll, copied next to the tests) as a child process.</summary>
static class CliProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "NanoVlm.Cli.dll");

    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return info;
    }

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"nanovlm {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
