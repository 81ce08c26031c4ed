using System.Diagnostics;
using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

public sealed class GlobPatternTests
{
    [Theory]
    [InlineData("config.json", "*.json", true)]
    [InlineData("sub/config.json", "*.json", true)]
    [InlineData("ai2d/train-0.parquet", "ai2d/*.parquet", true)]
    [InlineData("ai2d/train-0.parquet", "vqav2/*.parquet", false)]
    [InlineData("ai2d/train-0.parquet", "ai2d/", true)]
    [InlineData("model.safetensors", "model.safetensor?", true)]
    [InlineData("model.safetensors", "model.[st]afetensors", true)]
    [InlineData("model.safetensors", "model.[!s]afetensors", false)]
    [InlineData("a1", "a[0-9]", true)]
    [InlineData("a]", "a[]]", true)]
    [InlineData("a[", "a[", true)]
    [InlineData("az", "a[z-a]", false)]
    [InlineData("az", "a[!z-a]", true)]
    [InlineData("a-", "a[a-]", true)]
    [InlineData("README.md", "*", true)]
    [InlineData("", "*", true)]
    [InlineData("abc", "a*c*", true)]
    [InlineData("abc", "a*d", false)]
    public void Patterns_match_like_python_fnmatch(string path, string pattern, bool expected) =>
        Assert.Equal(expected, GlobPattern.IsMatch(path, pattern));

    [Fact]
    public void A_pattern_of_many_stars_against_a_long_name_takes_milliseconds()
    {
        var clock = Stopwatch.StartNew();
        Assert.False(GlobPattern.IsMatch(new string('a', 5000), "*a*a*a*a*a*a*a*a*a*a*a*c"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"{clock.Elapsed.TotalMilliseconds} ms");
    }
}
