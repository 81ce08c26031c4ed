using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// Writes a genuine Hugging Face word-level <c>tokenizer.json</c> from a text corpus: model WordLevel, Whitespace
/// pre-tokenizer (<c>\w+|[^\w\s]+</c>), <c>&lt;|endoftext|&gt;</c> = 0 (eos and pad), <c>[UNK]</c> = 1, then the corpus words by
/// frequency. The WordPiece decoder joins words with spaces and removes the space before punctuation (". , ? !").
/// </summary>
public static partial class WordLevelTokenizerBuilder
{
    public const string EndOfText = "<|endoftext|>";
    public const string Unknown = "[UNK]";

    [GeneratedRegex(@"\w+|[^\w\s]+")]
    private static partial Regex Words();

    public static JsonObject Build(IEnumerable<string> corpus, int minFrequency = 1, IReadOnlyList<string>? specialTokens = null)
    {
        string[] special = [EndOfText, Unknown, .. specialTokens ?? []];
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in corpus)
            foreach (Match m in Words().Matches(text))
                counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        var vocab = new JsonObject();
        foreach (var token in special) vocab[token] = vocab.Count;
        var words = counts.Where(kv => kv.Value >= minFrequency && !special.Contains(kv.Key))
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal);
        foreach (var (word, _) in words) vocab[word] = vocab.Count;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(special.Select((token, id) => (JsonNode)Special(id, token)).ToArray()),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject { ["type"] = "WordLevel", ["vocab"] = vocab, ["unk_token"] = Unknown },
        };
    }

    /// <summary>
    /// A word-level tokenizer for training on <paramref name="samples"/>: the corpus is every turn's prompt and answer as the generation
    /// writes them (<c>Question: ... Answer:</c>, or for the splitting generations' ChatML the role names, with <c>&lt;|im_start|&gt;</c> and
    /// <c>&lt;|im_end|&gt;</c> as special tokens).
    /// </summary>
    public static void Write(string folder, IEnumerable<VqaSample> samples, CheckpointGeneration generation = CheckpointGeneration.SeedEra)
    {
        if (!generation.SplitsImages())
        {
            Write(folder, samples.SelectMany(s => s.Turns.Select(t => Prompts.Question(t.User, s.Style) + " " + t.Assistant)));
            return;
        }
        var texts = samples.SelectMany(s => s.Turns.Select(t => $"user {t.User} assistant {t.Assistant}"));
        Write(folder, texts, specialTokens: ["<|im_start|>", "<|im_end|>"]);
    }

    /// <summary>Writes <c>tokenizer.json</c> and a <c>tokenizer_config.json</c> naming the eos/pad token into <paramref name="folder"/>.</summary>
    public static void Write(string folder, IEnumerable<string> corpus, int minFrequency = 1, IReadOnlyList<string>? specialTokens = null)
    {
        Directory.CreateDirectory(folder);
        var options = new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer.json"), Build(corpus, minFrequency, specialTokens).ToJsonString(options) + "\n");
        var config = new JsonObject { ["eos_token"] = EndOfText, ["pad_token"] = EndOfText, ["unk_token"] = Unknown, ["clean_up_tokenization_spaces"] = false, ["tokenizer_class"] = "PreTrainedTokenizerFast" };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(options) + "\n");
    }

    static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };
}
