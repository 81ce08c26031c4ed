using System.Text.Json;
using NanoVlm.Checkpoints;
using NanoVlm.Data;

namespace NanoVlm.Tests.Cli;

/// <summary>Fine-tuning on words the tokenizer does not know: said loudly, and a word-level vocabulary can grow without forgetting.</summary>
public sealed class VocabularyTests : IDisposable
{
    readonly TempDir dir = new();

    /// <summary>The test JSONL with its answers renamed: "stripes" becomes "horizontal", "plain" becomes "vertical".</summary>
    string NewWords()
    {
        var file = TestJsonl.Write(dir["new"], 24);
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"stripes\"", "\"horizontal\"").Replace("\"plain\"", "\"vertical\""));
        return file;
    }

    [Fact]
    public void UnknownAnswerWordsAreSaidAndAWordLevelVocabularyGrowsKeepingItsWords()
    {
        var (code, output, err) = CliProcess.Run("train", "--preset", "tiny", "--tokenizer", "wordlevel", "--data", $"jsonl:{TestJsonl.Write(dir["old"], 24)}",
            "--output", dir.Path, "--run-name", "base", "--max-steps", "2", "--eval-samples", "0", "--val-ratio", "0");
        Assert.True(code == 0, err + output);
        var checkpoint = Path.Combine(dir["base"], "checkpoints", "step-0000002");
        var data = NewWords();

        // The checkpoint's own tokenizer: the new answers are [UNK], and the run says so.
        (code, output, err) = CliProcess.Run("train", "--model", checkpoint, "--data", $"jsonl:{data}", "--output", dir.Path, "--run-name", "unk",
            "--max-steps", "1", "--eval-samples", "0", "--val-ratio", "0");
        Assert.True(code == 0, err + output);
        Assert.Contains("of the answer tokens are unknown to the tokenizer ('horizontal', 'vertical')", System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " "));

        // --tokenizer wordlevel on that checkpoint extends its vocabulary.
        (code, output, err) = CliProcess.Run("train", "--model", checkpoint, "--tokenizer", "wordlevel", "--data", $"jsonl:{data}", "--output", dir.Path,
            "--run-name", "grown", "--max-steps", "1", "--eval-samples", "0", "--val-ratio", "0");
        Assert.True(code == 0, err + output);
        var text = System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");
        Assert.Contains("with 2 new words ('horizontal', 'vertical')", text);
        Assert.DoesNotContain("unknown to the tokenizer", text);
        var grown = Path.Combine(dir["grown"], "checkpoints", "step-0000001");
        var oldConfig = new CheckpointLayout(checkpoint).ReadConfig();
        var newConfig = new CheckpointLayout(grown).ReadConfig();
        // Loaded as the model loads them, with the VLM's extra tokens: every token the model knew keeps its id, the image token included.
        using var before = Tokenizer.Load(Path.Combine(checkpoint, "tokenizer.json"), oldConfig.VlmExtraTokens);
        using var after = Tokenizer.Load(Path.Combine(grown, "tokenizer.json"), newConfig.VlmExtraTokens);
        foreach (var word in new[] { "What", "is", "this", "?", "stripes", "plain", "<|image|>" })
            Assert.Equal(before.Encode(word), after.Encode(word));
        Assert.Equal(before.ExtraTokenIds, after.ExtraTokenIds);
        Assert.Equal(2, after.VocabSize - before.VocabSize);
        Assert.True(after.Encode("horizontal").Single() >= before.VocabSize, "a new word took the id of a token the model knew");
        Assert.Equal(oldConfig.LmVocabSize + 2, newConfig.LmVocabSize);
        Assert.Equal(oldConfig.LmBaseVocabSize, newConfig.LmBaseVocabSize);
        using var model = Checkpoint.Load(grown);
        Assert.Equal(newConfig.LmVocabSize, (int)model.Decoder.token_embedding.weight!.shape[0]);
    }

    public void Dispose() => dir.Dispose();
}
