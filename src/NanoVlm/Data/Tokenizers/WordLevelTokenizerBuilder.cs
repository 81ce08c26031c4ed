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

    static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

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
    public static void Write(string folder, IEnumerable<VqaSample> samples, CheckpointGeneration generation = CheckpointGeneration.SeedEra) =>
        Write(folder, Corpus(samples, generation), specialTokens: generation.SplitsImages() ? ["<|im_start|>", "<|im_end|>"] : null);

    static IEnumerable<string> Corpus(IEnumerable<VqaSample> samples, CheckpointGeneration generation) => generation.SplitsImages()
        ? samples.SelectMany(s => s.Turns.Select(t => $"user {t.User} assistant {t.Assistant}"))
        : samples.SelectMany(s => s.Turns.Select(t => Prompts.Question(t.User, s.Style) + " " + t.Assistant));

    /// <summary>
    /// Copies the word-level tokenizer of <paramref name="sourceFolder"/> into <paramref name="folder"/> with the words of
    /// <paramref name="samples"/> it lacks appended (ids after every existing one, extra tokens included), so every old word keeps its
    /// id and a fine-tuned model keeps what it knew. Returns the words added, by frequency.
    /// </summary>
    public static IReadOnlyList<string> Extend(string sourceFolder, string folder, IEnumerable<VqaSample> samples, CheckpointGeneration generation,
        IReadOnlyDictionary<string, string> extraTokens)
    {
        var file = Path.Combine(sourceFolder, "tokenizer.json");
        var json = JsonNode.Parse(RegularFile.ReadAllText(file, Tokenizer.MaxFileBytes, "tokenizer")) as JsonObject
                   ?? throw new NanoVlmException($"{file}: expected a JSON object");
        if (json["model"] is not JsonObject { } model || model["type"]?.GetValue<string>() != "WordLevel" || model["vocab"] is not JsonObject vocab)
            throw new NanoVlmException($"{file}: only a word-level vocabulary can be extended with new words (this tokenizer is not WordLevel)");
        var known = vocab.Select(kv => kv.Key).Concat((json["added_tokens"] as JsonArray ?? []).Select(t => t!["content"]!.GetValue<string>()))
            .ToHashSet(StringComparer.Ordinal);
        var addedTokens = json["added_tokens"] as JsonArray ?? (JsonArray)(json["added_tokens"] = new JsonArray());
        var next = vocab.Select(kv => kv.Value!.GetValue<int>()).Concat(addedTokens.Select(t => t!["id"]!.GetValue<int>())).Max() + 1;
        // The VLM's extra tokens take the ids after the vocabulary when the tokenizer is loaded; they are written down at those ids, so
        // the new words come after them and no token the model knows changes its id.
        // In the vocabulary too: the tokenizers library keeps the id of an added token only when its model knows the token.
        foreach (var text in extraTokens.Values.Where(t => !known.Contains(t)))
        {
            vocab[text] = next;
            addedTokens.Add(Special(next++, text));
            known.Add(text);
        }
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in Corpus(samples, generation))
            foreach (Match m in Words().Matches(text))
                if (!known.Contains(m.Value)) counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        var added = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key).ToList();
        foreach (var word in added) vocab[word] = next++;
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString(Json) + "\n");
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
            if (File.Exists(Path.Combine(sourceFolder, name)))
                AtomicFile.WriteAllText(Path.Combine(folder, name), RegularFile.ReadAllText(Path.Combine(sourceFolder, name), RegularFile.MaxConfigBytes, "tokenizer config"));
        return added;
    }

    /// <summary>Writes <c>tokenizer.json</c> and a <c>tokenizer_config.json</c> naming the eos/pad token into <paramref name="folder"/>.</summary>
    public static void Write(string folder, IEnumerable<string> corpus, int minFrequency = 1, IReadOnlyList<string>? specialTokens = null)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer.json"), Build(corpus, minFrequency, specialTokens).ToJsonString(Json) + "\n");
        var config = new JsonObject { ["eos_token"] = EndOfText, ["pad_token"] = EndOfText, ["unk_token"] = Unknown, ["clean_up_tokenization_spaces"] = false, ["tokenizer_class"] = "PreTrainedTokenizerFast" };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(Json) + "\n");
    }

    static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };
}
