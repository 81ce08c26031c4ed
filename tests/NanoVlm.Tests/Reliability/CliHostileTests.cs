namespace NanoVlm.Tests.Reliability;

/// <summary>The real command line on hostile files: exit code 1, one <c>error: ...</c> line naming the file, no stack trace.</summary>
public sealed class CliHostileTests
{
    static void AssertCleanError((int Code, string Out, string Err) result, string file)
    {
        Assert.Equal(1, result.Code);
        var lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(file, lines[0]);
        Assert.DoesNotContain("   at ", result.Err + result.Out);
        Assert.DoesNotContain("Exception", result.Err + result.Out);
    }

    [Theory]
    [InlineData("terabyte-model.json")]
    [InlineData("wrong-type-string.json")]
    [InlineData("null-dict.json")]
    [InlineData("deeply-nested.json")]
    [InlineData("binary-garbage.json")]
    public void Info_on_a_hostile_config(string file)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("config"), file);
        AssertCleanError(CliProcess.Run("info", "--config", path), path);
    }

    [Theory]
    [InlineData("not-json.json")]
    [InlineData("huge-id.json")]
    [InlineData("bad-regex.json")]
    [InlineData("added-token-null.json")]
    public void Tokenize_with_a_hostile_tokenizer(string file)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("tokenizer"), file);
        AssertCleanError(CliProcess.Run("tokenize", "--tokenizer", path, "hello"), path);
    }

    [Fact]
    public void Info_on_a_missing_checkpoint()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nanovlm-missing-{Guid.NewGuid():N}");
        AssertCleanError(CliProcess.Run("info", path), path);
    }
}
