namespace NanoVlm.Tests.Data;

/// <summary>Paths of the committed test fixtures and scratch folders for tests that write files.</summary>
static class Fixture
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "Data", "Fixtures", .. parts]);

    public static string TempDir()
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"nanovlm-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static readonly IReadOnlyDictionary<string, string> ImageToken = new Dictionary<string, string> { ["image_token"] = "<|image|>" };
}
