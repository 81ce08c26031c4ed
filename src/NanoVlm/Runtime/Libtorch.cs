using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace NanoVlm.Runtime;

/// <summary>
/// Which libtorch this process runs on. TorchSharp loads <c>libtorch_cpu.so</c> by name: from the application's folder
/// when the NuGet package put it there, otherwise from <c>LD_LIBRARY_PATH</c> (how <c>./run</c> selects
/// <c>NANOVLM_LIBTORCH</c> or a PyTorch install for a build without the package).
/// </summary>
public static partial class Libtorch
{
    /// <summary>
    /// Loads TorchSharp's glue (and with it libtorch), then TorchSharp; a failure is one line with the loader's reason. The glue is
    /// tried first because TorchSharp, when it fails, prints pages of trace, copies libtorch into the application and hides the reason.
    /// </summary>
    public static void Initialize()
    {
        if (GlueLoadError() is { } reason) throw new NanoVlmException($"libtorch could not be loaded: {reason}");
        try
        {
            InitializeDeviceType(TorchSharp.DeviceType.CPU);
        }
        catch (TypeInitializationException e)
        {
            throw new NanoVlmException($"libtorch could not be loaded: {e.InnerException?.Message.Split('\n')[0] ?? e.Message}");
        }
    }

    static string? GlueLoadError()
    {
        foreach (var path in new[] { Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
                     Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so") }.Where(File.Exists))
        {
            try
            {
                NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e)
            {
                var lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                return lines.FirstOrDefault(l => l.Contains("not found", StringComparison.Ordinal)) ?? lines[0];
            }
        }
        return null;
    }

    /// <summary>The loaded libtorch_cpu.so, read from /proc/self/maps after loading the backend; null if none is mapped.</summary>
    public static string? LoadedPath()
    {
        InitializeDeviceType(TorchSharp.DeviceType.CPU);
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps)) return null;
        return File.ReadLines(maps).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && fields[^1].EndsWith("/libtorch_cpu.so", StringComparison.Ordinal))
            .Select(fields => fields[^1]).FirstOrDefault();
    }

    /// <summary>
    /// The version of the libtorch in <paramref name="libDir"/>: a PyTorch install's <c>torch/version.py</c>, a libtorch
    /// archive's <c>build-version</c>, or the version folder of a NuGet package; null when none says.
    /// </summary>
    public static string? Version(string libDir)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(libDir).TrimEnd('/')) ?? "";
        var versionPy = Path.Combine(parent, "version.py");
        if (File.Exists(versionPy) && PythonVersion().Match(File.ReadAllText(versionPy)) is { Success: true } m) return m.Groups[1].Value;
        var buildVersion = Path.Combine(parent, "build-version");
        if (File.Exists(buildVersion)) return File.ReadAllText(buildVersion).Trim();
        if (NuGetVersion().Match(Path.GetFullPath(libDir) + "/") is { Success: true } n) return $"{n.Groups[2].Value}, NuGet {n.Groups[1].Value}";
        // Copied from the NuGet package into the application: the dependency manifest names the package.
        return Directory.EnumerateFiles(AppContext.BaseDirectory, "*.deps.json").Select(File.ReadAllText)
            .Select(json => DepsPackage().Match(json)).Where(m => m.Success)
            .Select(m => $"{m.Groups[2].Value}, NuGet {m.Groups[1].Value}").FirstOrDefault();
    }

    /// <summary>One line: where the loaded libtorch is and its version.</summary>
    public static string Describe()
    {
        var path = LoadedPath();
        if (path is null) return "libtorch: not found in this process's memory map";
        return $"{path} ({Version(Path.GetDirectoryName(path)!) ?? "version unknown"})";
    }

    [GeneratedRegex(@"^__version__\s*=\s*['""]([^'""]+)['""]", RegexOptions.Multiline)]
    private static partial Regex PythonVersion();

    [GeneratedRegex(@"/(libtorch-[a-z0-9.-]+?)/(\d+\.\d+\.\d+[^/]*)/runtimes/")]
    private static partial Regex NuGetVersion();

    [GeneratedRegex(@"""(libtorch-[a-z0-9.-]+?)/(\d+\.\d+\.\d+[^""]*)""")]
    private static partial Regex DepsPackage();
}
