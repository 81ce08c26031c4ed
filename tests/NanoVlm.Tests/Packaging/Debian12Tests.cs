namespace NanoVlm.Tests.Packaging;

/// <summary>
/// The built command line runs on Debian 12's libstdc++ 12.2 (TorchSharp's glue asks GCC 13's; the build patches a copy), and
/// the unpatched glue does not load there, so these tests hold on machines that carry a newer libstdc++ too.
/// </summary>
public sealed class Debian12Tests : IDisposable
{
    readonly TempDir dir = new();
    static string Cli => Path.Combine(GoldenCases.RepoRoot, "src", "NanoVlm.Cli", "bin", "Release", "net10.0");
    const string Glue = "runtimes/linux-x64/native/libLibTorchSharp.so";

    [Fact]
    public void TheBuiltCommandLineRunsOnDebian12sLibstdcxx()
    {
        var environment = Debian12Libstdcxx.Environment();
        var info = Processes.Succeed("dotnet", [Path.Combine(Cli, "NanoVlm.Cli.dll"), "info", "--device"], environment: environment);
        Assert.Contains("TorchSharp: 0.107", info);
        var golden = GoldenCases.First(GoldenCases.V02Format);
        var generated = Processes.Succeed("dotnet", [Path.Combine(Cli, "NanoVlm.Cli.dll"), "generate", "--model", golden,
            "--image", Path.Combine(golden, "image_2.png"), "--prompt", "what is it?", "--greedy", "--max-new-tokens", "4", "--generations", "1"],
            environment: environment);
        Assert.Contains(">> Generation 1:", generated);
    }

    [Fact]
    public void TheUnpatchedGlueDoesNotLoadThere()
    {
        // The built app with the glue as TorchSharp's package ships it (the big files linked; the app's own copied, since dotnet
        // resolves a linked main assembly to its real folder).
        var app = dir["app"];
        Processes.Succeed("cp", ["-rs", Cli + "/.", app]);
        foreach (var own in new[] { "NanoVlm.Cli.dll", "NanoVlm.Cli.deps.json", "NanoVlm.Cli.runtimeconfig.json" })
        {
            File.Delete(Path.Combine(app, own));
            File.Copy(Path.Combine(Cli, own), Path.Combine(app, own));
        }
        var original = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), "torchsharp", "0.107.0", Glue);
        File.Delete(Path.Combine(app, Glue));
        File.Copy(original, Path.Combine(app, Glue));
        var (code, stdout, stderr) = Processes.Run("dotnet", [Path.Combine(app, "NanoVlm.Cli.dll"), "info", "--device"],
            environment: Debian12Libstdcxx.Environment());
        Assert.True(code != 0, $"the unpatched glue loaded on libstdc++ 12.2:\n{stdout}\n{stderr}");
        Assert.Contains("error: libtorch could not be loaded: ", stderr);
        Assert.Contains("version `GLIBCXX_3.4.32' not found", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose() => dir.Dispose();
}
