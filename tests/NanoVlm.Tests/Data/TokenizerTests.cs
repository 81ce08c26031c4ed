using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Data;

public class TokenizerTests
{
    sealed record Case(string text, int[] ids, string decoded, string decoded_skip);
    sealed record Expected(string tokenizer, int image_token_id, Case[] cases);

    static readonly Expected[] Reference =
        JsonSerializer.Deserialize<Expected[]>(File.ReadAllText(Fixture.Path("tokenizer-expected.json")))!;

    public static TheoryData<string> TokenizerNames => ["qwen3", "wordlevel"];

    [Theory]
    [MemberData(nameof(TokenizerNames))]
    public void EncodesAndDecodesLikeHuggingFace(string name)
    {
        var expected = Reference.Single(r => r.tokenizer == name);
        using var tok = Tokenizer.Load(Fixture.Path(name), Fixture.ImageToken);
        Assert.Equal(expected.image_token_id, tok.ExtraTokenIds["image_token"]);
        Assert.Equal(expected.image_token_id, tok.TokenToId("<|image|>"));
        Assert.Equal(expected.image_token_id + 1, tok.VocabSize);
        foreach (var c in expected.cases)
        {
            var ids = tok.Encode(c.text);
            Assert.True(c.ids.SequenceEqual(ids), $"{name} encode '{c.text}': expected [{string.Join(",", c.ids)}] got [{string.Join(",", ids)}]");
            Assert.Equal(c.decoded, tok.Decode(ids, skipSpecialTokens: false));
            Assert.Equal(c.decoded_skip, tok.Decode(ids, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void EosAndPadComeFromTokenizerConfig()
    {
        using var qwen = Tokenizer.Load(Fixture.Path("qwen3", "tokenizer.json"));
        Assert.Equal(qwen.TokenToId("<|im_end|>"), qwen.EosTokenId);
        Assert.Equal(qwen.EosTokenId, qwen.PadTokenId);
        Assert.Empty(qwen.ExtraTokenIds);
        using var words = Tokenizer.Load(Fixture.Path("wordlevel"));
        Assert.Equal(0, words.EosTokenId);
    }

    [Fact]
    public void ExistingExtraTokenKeepsItsId()
    {
        using var tok = Tokenizer.Load(Fixture.Path("qwen3"), new Dictionary<string, string> { ["image_token"] = "<|image_pad|>", ["x"] = "<|image|>" });
        Assert.Equal(151655, tok.ExtraTokenIds["image_token"]);
        Assert.Equal(151669, tok.ExtraTokenIds["x"]);
        Assert.Equal([151655, 151669], tok.Encode("<|image_pad|><|image|>"));
    }

    [Fact]
    public void BatchEncodingLeftPadsAndTruncates()
    {
        using var tok = Tokenizer.Load(Fixture.Path("wordlevel"));
        var batch = tok.EncodeBatch(["Hello world", "Hello world with whitespace runs"], maxLength: 4);
        Assert.Equal(4, batch.Length);
        Assert.Equal([0, 0, tok.TokenToId("Hello"), tok.TokenToId("world")], batch.InputIds[0]);
        Assert.Equal([0, 0, 1, 1], batch.AttentionMask[0]);
        Assert.Equal(tok.Encode("Hello world with whitespace"), batch.InputIds[1]);
        Assert.Equal([1, 1, 1, 1], batch.AttentionMask[1]);
    }

    [Fact]
    public void DecodeIgnoresIdsOutsideTheVocabulary()
    {
        using var tok = Tokenizer.Load(Fixture.Path("wordlevel"));
        Assert.Equal("Hello", tok.Decode([tok.TokenToId("Hello"), -1, tok.VocabSize + 5]));
        Assert.Equal("", tok.Decode([]));
    }

    [Theory]
    [InlineData("{ not json", "malformed JSON")]
    [InlineData("[1, 2]", "not a tokenizer.json")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": []}}", "unsupported or malformed model")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}}}", "malformed vocabulary")]
    [InlineData("{\"model\": {\"type\": \"Mystery\", \"vocab\": {\"a\": 0}}}", "unsupported or malformed model")]
    [InlineData("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"</s>\": 0}, \"unk_token\": 5}}", "invalid tokenizer.json")]
    public void MalformedFilesGiveOneLineErrorsNamingTheFile(string content, string message)
    {
        var dir = Fixture.TempDir();
        var file = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(file, content);
        var e = Assert.Throws<NanoVlmException>(() => Tokenizer.Load(file));
        Assert.Contains(file, e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        var dir = Fixture.TempDir();
        Assert.Contains("has no tokenizer.json", Assert.Throws<NanoVlmException>(() => Tokenizer.Load(dir)).Message);
        Assert.Contains("no such tokenizer", Assert.Throws<NanoVlmException>(() => Tokenizer.Load(Path.Combine(dir, "nope"))).Message);
    }

    [Fact]
    public void WordLevelBuilderWritesTheCommittedFixture()
    {
        var dir = Fixture.TempDir();
        WordLevelTokenizerBuilder.Write(dir, WordLevelCorpus);
        Assert.Equal(File.ReadAllText(Fixture.Path("wordlevel", "tokenizer.json")), File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
        using var tok = Tokenizer.Load(dir, Fixture.ImageToken);
        Assert.Equal("Question : What is this? Answer : sneaker", tok.Decode(tok.Encode("Question: What is this? Answer: sneaker<|endoftext|>"), skipSpecialTokens: true));
        Assert.Equal(1, tok.Encode("zebra")[0]);
        Assert.Equal([tok.TokenToId("héllo"), tok.TokenToId("café")], tok.Encode("héllo café"));
    }

    /// <summary>The corpus the committed wordlevel fixture was built from.</summary>
    static readonly string[] WordLevelCorpus =
    [
        "Question: What is this? Answer: sneaker",
        "Question: Is this footwear? Answer: yes",
        "Question: Is this footwear? Answer: no",
        "Question: What category is this? Answer: clothing",
        "Question: What category is this? Answer: footwear",
        "Question: What category is this? Answer: bag",
        "The cat sat on the mat, didn't it? Yes! 3 cats, 12 dogs.",
        "Hello world with whitespace runs and trailing tabs",
        "Numbers 0 1 12 123 3.14159 -42 and 2025-01-31",
        "héllo café 日本語 Unicode",
    ];

    /// <summary>A byte-level BPE token's bytes (OpenAI's logprobs report them): a character split over tokens gives each its own bytes.</summary>
    [Fact]
    public void ByteLevelTokensGiveTheirBytes()
    {
        using var qwen = Tokenizer.Load(Fixture.Path("qwen3", "tokenizer.json"));
        foreach (var text in new[] { "hello world", "héllo, wörld", "日本語のテキスト", "emoji 🙂 ok" })
        {
            var ids = qwen.Encode(text);
            Assert.Equal(System.Text.Encoding.UTF8.GetBytes(text), ids.SelectMany(qwen.TokenBytes).ToArray());
        }
        Assert.Empty(qwen.TokenBytes(-1));
    }
}
