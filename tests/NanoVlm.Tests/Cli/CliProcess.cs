using System.Diagnostics;

namespace NanoVlm.Tests.Cli;

/// <summary>Runs the real <c>nanovlm</c> executable (as a user would) and captures its exit code and output.</summary>
public static class CliProcess
{
    static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "NanoVlm.Cli.dll");

    public static (int Code, string Out, string Err) Run(params string[] args) => Run(new Dictionary<string, string> { ["HF_HUB_OFFLINE"] = "1" }, args);

    public static (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"nanovlm {string.Join(' ', args)} did not finish");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
