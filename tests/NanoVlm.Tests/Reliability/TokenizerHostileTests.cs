using NanoVlm.Data;

namespace NanoVlm.Tests.Reliability;

/// <summary>Hostile tokenizer.json files (Corpus/tokenizer): bad JSON, bad vocabularies, inputs the Rust library rejects.</summary>
public sealed class TokenizerHostileTests
{
    public static TheoryData<string> CorpusFiles => HostileInput.Corpus("tokenizer");

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_tokenizers_are_refused_with_one_line_naming_the_file(string file)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("tokenizer"), file);
        HostileInput.Refused(() => Tokenizer.Load(path, Data.Fixture.ImageToken).Dispose(), path);
    }

    [Theory]
    [InlineData("huge-id.json", "over the limit")]
    [InlineData("bad-regex.json", "invalid tokenizer.json")]
    [InlineData("bpe-bad-merges.json", "invalid tokenizer.json")]
    [InlineData("added-token-null.json", "malformed vocabulary")]
    [InlineData("no-eos.json", "no eos token")]
    public void Messages_name_the_problem(string file, string problem)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("tokenizer"), file);
        HostileInput.Refused(() => Tokenizer.Load(path).Dispose(), path, problem);
    }
}
