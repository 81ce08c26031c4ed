namespace NanoVlm.Tests;

/// <summary>
/// Finds golden conformance cases (folders holding a case.json): the copies kept in tests/golden, the sources they were copied from
/// (../shared/golden, golden-v01, golden-v02; a case there replaces its copy) and $NANOVLM_GOLDEN_DIR (':'-separated).
/// </summary>
public static class GoldenCases
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The sets of cases, each a folder of case folders, as ../shared names them.</summary>
    public static readonly string[] Sets = ["golden", "golden-v01", "golden-v02"];

    public const string SeedFormat = "nanovlm-seed", V01Format = "nanovlm-v0.1-model", V02Format = "nanovlm-v0.2-pipeline";

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NanoVlm.sln"))) return dir.FullName;
        throw new InvalidOperationException("NanoVlm.sln not found above the test binaries");
    }

    public static string SharedRoot(string set) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", set));
    public static string CopyRoot(string set) => Path.Combine(RepoRoot, "tests", "golden", set);

    public static IEnumerable<string> Roots()
    {
        foreach (var set in Sets)
        {
            yield return SharedRoot(set);
            yield return CopyRoot(set);
        }
        var extra = Environment.GetEnvironmentVariable("NANOVLM_GOLDEN_DIR");
        if (!string.IsNullOrEmpty(extra))
            foreach (var path in extra.Split(':', StringSplitOptions.RemoveEmptyEntries)) yield return Path.GetFullPath(path);
    }

    /// <summary>Every case once: a case in ../shared wins over its copy in tests/golden (the copy test checks they are equal).</summary>
    public static IReadOnlyList<string> All()
    {
        var shared = Sets.SelectMany(set => Cases(SharedRoot(set)).Select(c => Path.Combine(CopyRoot(set), Path.GetRelativePath(SharedRoot(set), c))))
            .ToHashSet();
        return Roots().SelectMany(Cases).Where(c => !shared.Contains(c)).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    public static IEnumerable<string> Cases(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "case.json", SearchOption.AllDirectories).Select(f => Path.GetDirectoryName(f)!)
            : [];

    /// <summary>The case's format: case.json's "format", or the seed format when it has none.</summary>
    public static string Format(string caseDir)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(caseDir, "case.json")));
        return doc.RootElement.TryGetProperty("format", out var f) ? f.GetString() ?? SeedFormat : SeedFormat;
    }

    /// <summary>Copies a case folder (sub-folders included) to <paramref name="target"/>, for tests that damage or extend it.</summary>
    public static string CopyTo(string caseDir, string target)
    {
        foreach (var file in Directory.EnumerateFiles(caseDir, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(caseDir, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    public static string First(string format) => All().First(c => Format(c) == format);

    public static TheoryData<string> Data()
    {
        var data = new TheoryData<string>();
        foreach (var c in All()) data.Add(c);
        return data;
    }

    public static TheoryData<string> OfFormat(string format)
    {
        var data = new TheoryData<string>();
        foreach (var c in All().Where(c => Format(c) == format)) data.Add(c);
        return data;
    }
}
