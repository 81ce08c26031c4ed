namespace NanoVlm.Tests.Packaging;

/// <summary>
/// <c>./run pack</c> produces packages a .NET user can install: the tool runs <c>nanovlm info --device</c>, and a fresh console
/// project restoring the library runs a forward pass, both on Debian 12's libstdc++ 12.2. Each run packs a version of its own, so the NuGet cache never serves
/// an older build of the same version.
/// </summary>
public sealed class PackageTests : IClassFixture<PackageTests.Packed>
{
    public sealed class Packed : IDisposable
    {
        public TempDir Dir { get; } = new();
        public string Version { get; } = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        public string Artifacts => Dir["artifacts"];

        public Packed() =>
            Processes.Succeed(Path.Combine(GoldenCases.RepoRoot, "run"), ["pack", "--output", Artifacts, "--version", Version]);

        public void Dispose()
        {
            var cached = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), "nanovlm", Version.ToLowerInvariant());
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            Dir.Dispose();
        }
    }

    readonly Packed packed;

    public PackageTests(Packed packed) => this.packed = packed;

    [Fact]
    public void ToolInstallsFromArtifactsAndRuns()
    {
        var tools = packed.Dir["tools"];
        Processes.Succeed("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", packed.Artifacts, "NanoVlm.Tool", "--version", packed.Version]);
        var output = Processes.Succeed(Path.Combine(tools, "nanovlm"), ["info", "--device"], environment: Debian12Libstdcxx.Environment());
        Assert.Contains("TorchSharp: 0.107", output);
    }

    /// <summary>
    /// The README's C# snippets, pasted together into one file of a project that uses the packed library, compile: each becomes a
    /// local function, their using directives go on top (two snippets importing types of the same name would be ambiguous).
    /// </summary>
    [Fact]
    public void TheReadmeSnippetsCompileTogetherAgainstThePackage()
    {
        var readme = File.ReadAllText(Path.Combine(GoldenCases.RepoRoot, "README.md"));
        var snippets = System.Text.RegularExpressions.Regex.Matches(readme, "```csharp\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => m.Groups[1].Value.Split('\n')).ToList();
        Assert.True(snippets.Count >= 3, $"{snippets.Count} C# snippets in the README");
        var usings = snippets.SelectMany(lines => lines.Where(l => l.StartsWith("using ", StringComparison.Ordinal) && l.TrimEnd().EndsWith(';') && !l.Contains('=')
            && !l.StartsWith("using var", StringComparison.Ordinal) && !l.StartsWith("using IChatClient", StringComparison.Ordinal))).Distinct();
        var bodies = snippets.Select((lines, i) =>
            $"async Task Snippet{i}()\n{{\n{string.Join('\n', lines.Where(l => !usings.Contains(l)))}\n}}\n");
        var app = ConsoleApp("snippets", string.Join('\n', usings) + "\n\nConsole.WriteLine(\"compiled\");\n\n" + string.Join('\n', bodies)
            );
        var (code, output, err) = Processes.Run("dotnet", ["build", "-c", "Release", "-nologo", "-clp:ErrorsOnly"], workingDirectory: app);
        Assert.True(code == 0, output + err);
    }

    string ConsoleApp(string name, string program)
    {
        var app = Directory.CreateDirectory(packed.Dir[name]).FullName;
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="artifacts" value="{packed.Artifacts}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <NoWarn>CS8321</NoWarn>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="NanoVlm" Version="{packed.Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), program);
        return app;
    }

    [Fact]
    public void LibraryRestoresIntoAConsoleProjectAndRunsTheTinyPreset()
    {
        var app = ConsoleApp("app", """
            using NanoVlm.Benchmarks;
            using NanoVlm.Models;

            TorchSharp.torch.manual_seed(0);
            using var model = new VisionLanguageModel(Presets.Get("tiny"));
            using var batch = SyntheticBatch.Create(model, batch: 2, seqLen: 16);
            var (logits, loss) = model.call(batch.InputIds, batch.Images, batch.AttentionMask, batch.Targets, null);
            Console.WriteLine($"logits [{string.Join(", ", logits.shape)}] loss {loss!.item<float>():F3}");
            """);
        var output = Processes.Succeed("dotnet", ["run", "-c", "Release"], workingDirectory: app, environment: Debian12Libstdcxx.Environment());
        Assert.Matches(@"logits \[2, 16, \d+\] loss \d+\.\d{3}", output);
    }
}
