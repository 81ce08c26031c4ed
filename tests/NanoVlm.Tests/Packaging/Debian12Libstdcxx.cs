namespace NanoVlm.Tests.Packaging;

/// <summary>Debian 12's own libstdc++ (GCC 12.2), which <c>./run test</c> downloads into .cache/ (apt-get download, nothing installed).</summary>
public static class Debian12Libstdcxx
{
    public static string Folder { get; } = Path.Combine(GoldenCases.RepoRoot, ".cache", "libstdc++-12.2");

    /// <summary>An environment whose loader takes that libstdc++ before the machine's own, which may be newer.</summary>
    public static Dictionary<string, string?> Environment()
    {
        Assert.True(File.Exists(Path.Combine(Folder, "libstdc++.so.6")),
            $"{Folder}/libstdc++.so.6 is missing: ./run test downloads it (apt-get download libstdc++6=12.2.0-14+deb12u1)");
        var inherited = System.Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        return new() { ["LD_LIBRARY_PATH"] = Folder + (string.IsNullOrEmpty(inherited) ? "" : ":" + inherited), ["HF_HUB_OFFLINE"] = "1" };
    }
}
