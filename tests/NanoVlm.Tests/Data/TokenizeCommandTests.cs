using NanoVlm.Cli.Commands;

namespace NanoVlm.Tests.Data;

[Collection("Console")]
public class TokenizeCommandTests
{
    static (int Code, string Out) Run(params string[] args)
    {
        var root = new System.CommandLine.RootCommand { TokenizeCommand.Create() };
        var writer = new StringWriter();
        var original = Console.Out;
        Console.SetOut(writer);
        try { return (root.Parse(args).Invoke(), writer.ToString()); }
        finally { Console.SetOut(original); }
    }

    [Fact]
    public void EncodesAndDecodesWithExtraTokens()
    {
        var dir = Fixture.Path("wordlevel");
        var (code, output) = Run("tokenize", "--tokenizer", dir, "--extra-tokens", "<|image|>Hello world", "cat");
        Assert.Equal(0, code);
        Assert.Equal("[57,28,54]\n[35]\n", output.ReplaceLineEndings("\n"));
        (code, output) = Run("tokenize", "--tokenizer", dir, "--extra-tokens", "--decode", "[57,28,54,0]");
        Assert.Equal("<|image|> Hello world <|endoftext|>\n", output.ReplaceLineEndings("\n"));
        (_, output) = Run("tokenize", "--tokenizer", dir, "--extra-tokens", "--decode", "--skip-special-tokens", "[57,28,54,0]");
        Assert.Equal("Hello world\n", output.ReplaceLineEndings("\n"));
    }
}
