using System.Diagnostics;

namespace NanoVlm.Tests;

/// <summary>Runs the real <c>nanovlm</c> command line (NanoVlm.Cli.dll, copied next to the tests) as a child process, as a user would.</summary>
public static class CliProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "NanoVlm.Cli.dll");

    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        return info;
    }

    /// <summary>Runs offline (HF_HUB_OFFLINE=1): nothing in the tests may reach the network.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => Run(new Dictionary<string, string> { ["HF_HUB_OFFLINE"] = "1" }, args);

    public static (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using var p = Process.Start(StartInfo(args, environment))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"nanovlm {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
