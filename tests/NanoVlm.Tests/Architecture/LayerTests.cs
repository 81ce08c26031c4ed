using System.Text.RegularExpressions;

namespace NanoVlm.Tests.Architecture;

/// <summary>
/// The library's folders are layers that import only downward (src/NanoVlm/README.md): read from every file's namespace and
/// <c>using</c> lines (and any fully qualified <c>NanoVlm.X.</c> name in its code).
/// </summary>
public partial class LayerTests
{
    /// <summary>Bottom to top; folders on one line are one layer and may not import each other.</summary>
    static readonly string[][] Layers =
    [
        ["Runtime"], ["Hub"], ["Models"], ["Checkpoints"], ["Data"], ["Generation"], ["Pretrained"], ["Evaluation", "Export"], ["Training"],
        ["Serving", "Benchmarks"],
    ];

    static string Library => Path.Combine(GoldenCases.RepoRoot, "src", "NanoVlm");

    static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Where(f => Path.GetRelativePath(Library, f).Split('/')[0] is not ("bin" or "obj" or "build"));

    static int Level(string folder) => Array.FindIndex(Layers, l => l.Contains(folder));

    [Fact]
    public void EveryFileLivesInALayerFolderUnderItsNamespace()
    {
        foreach (var file in SourceFiles())
        {
            var relative = Path.GetRelativePath(Library, file);
            var parts = relative.Split('/');
            Assert.True(parts.Length > 1 && Level(parts[0]) >= 0, $"{relative} is not in a layer folder");
            Assert.True(File.Exists(Path.Combine(Library, parts[0], "README.md")), $"{parts[0]}/ has no README.md");
            var ns = Namespace().Match(File.ReadAllText(file)).Groups[1].Value;
            Assert.True(ns == $"NanoVlm.{parts[0]}" || ns.StartsWith($"NanoVlm.{parts[0]}.", StringComparison.Ordinal),
                $"{relative}: namespace {ns} is not under NanoVlm.{parts[0]}");
        }
    }

    [Fact]
    public void FoldersImportOnlyLowerLayers()
    {
        var wrong = new List<string>();
        foreach (var file in SourceFiles())
        {
            var relative = Path.GetRelativePath(Library, file);
            var own = relative.Split('/')[0];
            var text = File.ReadAllText(file);
            var code = Comment().Replace(text, "");
            var used = Using().Matches(text).Select(m => m.Groups[1].Value)
                .Concat(Qualified().Matches(code).Select(m => m.Groups[1].Value)).Distinct();
            foreach (var folder in used.Where(f => f != own))
            {
                if (Level(folder) < 0) wrong.Add($"{relative}: NanoVlm.{folder} is not a layer");
                else if (Level(folder) >= Level(own)) wrong.Add($"{relative} ({own}) imports {folder}, which is not below it");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>Decode paths and other behaviour are chosen by parameters, not by process-wide switches.</summary>
    [Fact]
    public void NoGlobalSwitches()
    {
        var found = SourceFiles().SelectMany(f => File.ReadLines(f).Select((line, i) => (f, line, i)))
            .Where(x => StaticSetter().IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(Library, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    /// <summary>Modules are called through <c>call</c> (which runs their hooks), never through <c>forward</c> from outside.</summary>
    [Fact]
    public void ModulesAreCalledThroughCall()
    {
        var found = SourceFiles().Concat(Directory.EnumerateFiles(Path.Combine(GoldenCases.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/") && !f.Contains("/obj/")).Distinct()
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, line, i)))
            .Where(x => x.line.Contains(".forward(", StringComparison.Ordinal))
            .Select(x => $"{x.f}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    /// <summary>The library speaks of parameters (<c>BatchSize</c>); only the command line knows its flags (<c>--batch-size</c>).</summary>
    [Fact]
    public void LibraryMessagesNameNoCommandLineFlags()
    {
        var found = SourceFiles().SelectMany(f => File.ReadLines(f).Select((line, i) => (f, line, i)))
            .Where(x => !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal) && FlagInString().IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(Library, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    [GeneratedRegex(@"^using (?:static )?NanoVlm\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex Using();

    [GeneratedRegex(@"(?<![\w.])NanoVlm\.(\w+)\.")]
    private static partial Regex Qualified();

    [GeneratedRegex(@"//.*$|^using .*$|^namespace .*$", RegexOptions.Multiline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"\bpublic static (?!readonly|class|partial|extern)[\w<>?\[\], ]+ \w+ \{ get; (?:set|init);")]
    private static partial Regex StaticSetter();

    [GeneratedRegex(@"""[^""]*(?<![\w-])--[a-z][a-z-]+")]
    private static partial Regex FlagInString();
}
