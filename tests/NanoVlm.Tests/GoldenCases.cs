namespace NanoVlm.Tests;

/// <summary>Finds golden conformance cases: every folder holding a case.json under ../shared/golden and $NANOVLM_GOLDEN_DIR.</summary>
public static class GoldenCases
{
    public static string RepoRoot { get; } = FindRepoRoot();

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NanoVlm.sln"))) return dir.FullName;
        throw new InvalidOperationException("NanoVlm.sln not found above the test binaries");
    }

    public static IEnumerable<string> Roots()
    {
        yield return Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "golden"));
        var extra = Environment.GetEnvironmentVariable("NANOVLM_GOLDEN_DIR");
        if (!string.IsNullOrEmpty(extra))
            foreach (var path in extra.Split(':', StringSplitOptions.RemoveEmptyEntries)) yield return Path.GetFullPath(path);
    }

    public static IReadOnlyList<string> All() =>
        Roots().Where(Directory.Exists)
            .SelectMany(root => Directory.EnumerateFiles(root, "case.json", SearchOption.AllDirectories))
            .Select(f => Path.GetDirectoryName(f)!)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    public static TheoryData<string> Data()
    {
        var data = new TheoryData<string>();
        foreach (var c in All()) data.Add(c);
        return data;
    }
}
