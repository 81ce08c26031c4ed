namespace NanoVlm.Tests.Gpu;

/// <summary>
/// tests/gpu/run builds the bundle a GPU machine needs (no libtorch in the app, under 64 MiB), and tests/gpu/device.sh
/// runs all its steps from that bundle: here on the CPU (--cpu, the tiny preset) with the NuGet package's libtorch
/// standing in for PyTorch's, so the script a GPU session runs once is not untested.
/// </summary>
[Collection(nameof(ExternalApp))]
public sealed class GpuBundleTests
{
    [Fact]
    public void BundleBuildsAndTheDeviceScriptRunsOnTheCpu()
    {
        using var dir = new TempDir();
        var bundle = dir["bundle"];
        Processes.Succeed(Path.Combine(GoldenCases.RepoRoot, "tests", "gpu", "run"), [bundle],
            environment: new Dictionary<string, string?> { ["NANOVLM_GPU_XZ_OPT"] = "-T0 -0" });
        var files = Directory.EnumerateFiles(bundle, "*", SearchOption.AllDirectories).ToList();
        Assert.True(files.Sum(f => new FileInfo(f).Length) < 64L << 20, "the bundle must fit in the 64 MiB a device run carries");
        var app = Processes.Succeed("tar", ["-tJf", Path.Combine(bundle, "app.tar.xz")]);
        Assert.Contains("NanoVlm.Cli.dll", app);
        Assert.Contains("libLibTorchSharp.so", app);
        Assert.DoesNotContain("libtorch_cpu.so", app);
        Assert.Contains("shared/Microsoft.NETCore.App/", Processes.Succeed("tar", ["-tJf", Path.Combine(bundle, "dotnet.tar.xz")]));

        var output = dir["out"];
        var stdout = Processes.Succeed("bash", [Path.Combine(GoldenCases.RepoRoot, "tests", "gpu", "device.sh"), "--cpu", bundle],
            environment: new Dictionary<string, string?> { ["NANOVLM_LIBTORCH"] = NuGetLibtorch.Dir, ["OUT"] = output, ["DOTNET_ROOT"] = null });
        Assert.Contains($"libtorch: {NuGetLibtorch.Dir}/libtorch_cpu.so", File.ReadAllText(Path.Combine(output, "info.txt")));
        Assert.Contains("golden case on cpu, fp32: forward, backward, greedy ids | 5/5 within tolerance", stdout);
        Assert.Contains("golden case on cpu, bf16: forward, backward, greedy ids | 5/5 within tolerance", stdout);
        foreach (var row in new[] { "train step, fp32, batch 2", "train step, bf16, batch 2", "greedy decode, fp32 weights", "greedy decode, bf16 weights",
                     "peak memory of training, bf16, batch 2" })
            Assert.Contains(row, stdout);
    }

    [Fact]
    public void DeviceScriptWithoutABundleSaysWhatIsMissing()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = Processes.Run("bash", [Path.Combine(GoldenCases.RepoRoot, "tests", "gpu", "device.sh"), dir["none"]]);
        Assert.Equal(1, code);
        Assert.Matches(@"^\[device\] error: .*app\.tar\.xz is missing: build the bundle with tests/gpu/run and carry it\n$", stderr);
    }
}
