namespace NanoVlm.Tests;

/// <summary>The native folder of the restored libtorch-cpu-linux-x64 package: a libtorch folder to hand to NANOVLM_LIBTORCH.</summary>
public static class NuGetLibtorch
{
    public static string Dir { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("NUGET_PACKAGES")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        "libtorch-cpu-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");
}
