namespace NanoVlm.Tests.Cli;

/// <summary>
/// ./run's choices, checked without a fresh machine: which libtorch it loads (NANOVLM_LIBTORCH, a PyTorch install found
/// by python3, the NuGet package) and how it detects and reports the libstdc++ it needs.
/// </summary>
[Collection(nameof(ExternalApp))]
public sealed class RunScriptTests
{
    static string Run => Path.Combine(GoldenCases.RepoRoot, "run");

    /// <summary>A PATH whose python3 is a stand-in: it prints a torch folder (or fails when <paramref name="torchDir"/> is null).</summary>
    static string FakePython(TempDir dir, string? torchDir, string version = "2.11.0+fake CUDA 12.8")
    {
        var bin = Directory.CreateDirectory(dir["bin"]).FullName;
        var script = torchDir is null
            ? "#!/bin/sh\nexit 1\n"
            : $"#!/bin/sh\ncase \"$2\" in *dirname*) echo '{torchDir}' ;; *) echo '{version}' ;; esac\n";
        File.WriteAllText(Path.Combine(bin, "python3"), script);
        Processes.Succeed("chmod", ["+x", Path.Combine(bin, "python3")]);
        return $"{bin}:{Environment.GetEnvironmentVariable("PATH")}";
    }

    [Fact]
    public void NanovlmLibtorchIsLoadedInsteadOfThePackage()
    {
        var (code, stdout, stderr) = Processes.Run(Run, ["nanovlm", "info", "--device"],
            environment: new Dictionary<string, string?> { ["NANOVLM_LIBTORCH"] = NuGetLibtorch.Dir });
        Assert.True(code == 0, stderr);
        Assert.Contains($"[run] libtorch: {NuGetLibtorch.Dir} (NANOVLM_LIBTORCH)", stderr);
        Assert.Contains($"libtorch: {NuGetLibtorch.Dir}/libtorch_cpu.so (2.10.0, NuGet libtorch-cpu-linux-x64)", stdout);
        Assert.Contains("cuda: not available", stdout);
    }

    [Fact]
    public void NanovlmLibtorchWithoutLibtorchIsAOneLineError()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = Processes.Run(Run, ["nanovlm", "info", "--device"],
            environment: new Dictionary<string, string?> { ["NANOVLM_LIBTORCH"] = dir.Path });
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal($"[run] error: NANOVLM_LIBTORCH={dir.Path}: no libtorch_cpu.so in that folder\n", stderr);
    }

    [Fact]
    public void APyTorchInstallIsUsedWhenThereIsNoNanovlmLibtorch()
    {
        using var dir = new TempDir();
        var torch = Directory.CreateDirectory(dir["site-packages/torch"]).FullName;
        Directory.CreateSymbolicLink(Path.Combine(torch, "lib"), NuGetLibtorch.Dir);
        var (code, stdout, stderr) = Processes.Run(Run, ["nanovlm", "info", "--device"],
            environment: new Dictionary<string, string?> { ["NANOVLM_LIBTORCH"] = null, ["PATH"] = FakePython(dir, torch) });
        Assert.True(code == 0, stderr);
        Assert.Contains($"[run] libtorch: {torch}/lib (PyTorch 2.11.0+fake CUDA 12.8; set NANOVLM_LIBTORCH to choose another)", stderr);
        Assert.Contains("libtorch_cpu.so", stdout);
    }

    [Fact]
    public void TheNuGetPackageIsUsedWithoutAPyTorchInstall()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = Processes.Run(Run, ["nanovlm", "info", "--device"],
            environment: new Dictionary<string, string?> { ["NANOVLM_LIBTORCH"] = null, ["PATH"] = FakePython(dir, null) });
        Assert.True(code == 0, stderr);
        Assert.Contains("[run] libtorch: NuGet package libtorch-cpu-linux-x64", stderr);
        Assert.Contains("/bin/Release/net10.0/runtimes/linux-x64/native/libtorch_cpu.so (2.10.0, NuGet libtorch-cpu-linux-x64)", stdout);
    }

    /// <summary>A PyTorch whose libtorch TorchSharp cannot load (Debian's python3-torch 1.13, say) is passed over with one line, not crashed into.</summary>
    [Fact]
    public void APyTorchTorchSharpCannotLoadIsPassedOver()
    {
        using var dir = new TempDir();
        var torch = Directory.CreateDirectory(dir["torch/lib"]).Parent!.FullName;
        File.WriteAllText(Path.Combine(torch, "lib", "libtorch_cpu.so"), "not a library");
        var (code, stdout, stderr) = Processes.Run(Run, ["nanovlm", "info", "--device"],
            environment: new Dictionary<string, string?> { ["NANOVLM_LIBTORCH"] = null, ["PATH"] = FakePython(dir, torch, "1.13.1 CPU") });
        Assert.True(code == 0, stderr);
        Assert.Contains($"[run] libtorch: the PyTorch 1.13.1 of python3 ({torch}) is skipped: TorchSharp 0.107 runs on libtorch 2.10 and 2.11", stderr);
        Assert.Contains("(2.10.0, NuGet libtorch-cpu-linux-x64)", stdout);
        var supported = Processes.Succeed("bash", ["-c", $"source '{Run}'; for v in 2.10.0 2.11.0+cu128 2.9.1 2.12.0 1.13.1; do torch_supported $v && echo $v; done; true"]);
        Assert.Equal("2.10.0\n2.11.0+cu128\n", supported);
    }

    /// <summary>Packages are versioned from the repository, so a pack after a pull is newer than the one NuGet's cache holds.</summary>
    [Fact]
    public void PackagesAreVersionedFromTheRepository()
    {
        var version = Processes.Succeed("bash", ["-c", $"source '{Run}'; repo_version"]).Trim();
        var commits = Processes.Succeed("git", ["rev-list", "--count", "HEAD"]).Trim();
        Assert.Matches($@"^\d+\.\d+\.\d+-dev\.{commits}\+[0-9a-f]{{7,}}$", version);
    }
}
