using System.Diagnostics;

namespace NanoVlm.Tests;

/// <summary>Runs a program (a script of the repository, dotnet, an installed tool) and collects its exit code and output.</summary>
public static class Processes
{
    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? GoldenCases.RepoRoot,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            if (value is null) info.Environment.Remove(key);
            else info.Environment[key] = value;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {limit}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// mpirun in a session of its own (setsid execs it in the same process): Open MPI signals its process group when a job ends
    /// badly, and the test host must not be in it.
    /// </summary>
    public static (int Code, string Out, string Err) Mpirun(IEnumerable<string> args, TimeSpan? timeout = null) =>
        Run("setsid", args.Prepend("mpirun"), timeout: timeout);

    /// <summary>Runs and asserts exit code 0, showing the output when it is not.</summary>
    public static string Succeed(string file, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var (code, stdout, stderr) = Run(file, args, workingDirectory, environment, timeout);
        Assert.True(code == 0, $"{file} {string.Join(' ', args)} exited with {code}\n{stdout}\n{stderr}");
        return stdout;
    }
}
