using System.Text.Json.Nodes;
using NanoVlm.Data;
using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests;

/// <summary>Tiny configurations and inputs for fast tests.</summary>
public static class TestModels
{
    public static VlmConfig Tiny { get; } = new()
    {
        VitHiddenDim = 32, VitInterDim = 64, VitPatchSize = 8, VitImgSize = 32, VitNHeads = 2, VitNBlocks = 1,
        LmHiddenDim = 32, LmInterDim = 64, LmNHeads = 4, LmNKvHeads = 2, LmNBlocks = 2,
        LmBaseVocabSize = 50, ExtraTokenAmount = 1, LmVocabSize = 51, LmMaxPositionEmbeddings = 128, LmMaxLength = 64,
        MpImageTokenLength = 4, VitModelType = "testing", LmModelType = "testing",
    };

    public static VisionLanguageModel Create(long seed = 0, VlmConfig? cfg = null)
    {
        manual_seed(seed);
        var model = new VisionLanguageModel(cfg ?? Tiny);
        model.eval();
        return model;
    }

    /// <summary>The model behind the front door with <see cref="WordLevelTokenizer"/> of lm_base_vocab_size tokens in a temporary folder.</summary>
    public static PretrainedVlm Vlm(VisionLanguageModel model)
    {
        var dir = Directory.CreateTempSubdirectory("nanovlm-test-tokenizer-").FullName;
        WordLevelTokenizer(dir, model.Config.LmBaseVocabSize);
        return PretrainedVlm.Create(model, Tokenizer.Load(dir, model.Config.VlmExtraTokens));
    }

    /// <summary>
    /// Writes a word-level tokenizer.json of exactly <paramref name="size"/> tokens (id 0 = <c>&lt;|endoftext|&gt;</c>, the eos; 1 =
    /// <c>&lt;unk&gt;</c>; then <c>w2</c>, <c>w3</c>, ...), so extra tokens get the ids a model built for that base vocabulary assumes.
    /// </summary>
    public static void WordLevelTokenizer(string folder, int size)
    {
        var vocab = new JsonObject();
        for (var i = 0; i < size; i++) vocab[i switch { 0 => "<|endoftext|>", 1 => "<unk>", _ => $"w{i}" }] = i;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 0, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            }),
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" },
            ["model"] = new JsonObject { ["type"] = "WordLevel", ["vocab"] = vocab, ["unk_token"] = "<unk>" },
        };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
    }

    /// <summary>
    /// Writes a byte-level BPE tokenizer.json (GPT-2's byte alphabet, as SmolLM2's): the 256 bytes, a few merges that JSON answers use
    /// (<c>{"</c>, <c>":</c>, <c>true</c>, ...), then <c>&lt;|endoftext|&gt;</c> (the eos), <c>&lt;|im_start|&gt;</c> and
    /// <c>&lt;|im_end|&gt;</c>. Returns its size (a model's lm_base_vocab_size).
    /// </summary>
    public static int ByteLevelTokenizer(string folder)
    {
        var alphabet = new List<char>();
        var next = 256;
        for (var b = 0; b < 256; b++) alphabet.Add((char)(b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? b : next++));
        string[][] merges = [["{", "\""], ["\"", ":"], ["\"", ","], [",", "\""], ["\"", "}"], ["\u0120", "\""], ["t", "r"], ["u", "e"], ["tr", "ue"],
            ["n", "u"], ["l", "l"], ["nu", "ll"], ["a", "b"], ["ab", "c"], ["1", "2"]];
        var vocab = new JsonObject();
        foreach (var c in alphabet) vocab[c.ToString()] = vocab.Count;
        var mergeList = new JsonArray();
        foreach (var pair in merges)
        {
            var (left, right) = (pair[0], pair[1]);
            vocab[left + right] = vocab.Count;
            mergeList.Add($"{left} {right}");
        }
        var added = new JsonArray();
        foreach (var special in new[] { "<|endoftext|>", "<|im_start|>", "<|im_end|>" })
        {
            added.Add(new JsonObject
            {
                ["id"] = vocab.Count, ["content"] = special, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
            vocab[special] = vocab.Count;
        }
        JsonObject ByteLevel() => new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var json = new JsonObject
        {
            ["version"] = "1.0", ["added_tokens"] = added, ["pre_tokenizer"] = ByteLevel(), ["decoder"] = ByteLevel(),
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = mergeList },
        };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
        return vocab.Count;
    }

    /// <summary>A tiny random model of <paramref name="seed"/> behind the front door with <see cref="ByteLevelTokenizer"/>.</summary>
    public static PretrainedVlm ByteLevelVlm(long seed = 0)
    {
        var dir = Directory.CreateTempSubdirectory("nanovlm-test-bpe-").FullName;
        var size = ByteLevelTokenizer(dir);
        var config = Tiny with { LmBaseVocabSize = size, LmVocabSize = size + Tiny.ExtraTokenAmount, LmMaxPositionEmbeddings = 512, LmMaxLength = 512 };
        return PretrainedVlm.Create(Create(seed, config), Tokenizer.Load(dir, config.VlmExtraTokens));
    }

    /// <summary>A left-padded batch: row r has images[r] images, then text tokens (ids 1..49), pad id 0 with mask 0.</summary>
    public static (Tensor Ids, Tensor Mask, Tensor? Images) Batch(VisionLanguageModel model, int[] imagesPerRow, int[] textPerRow, long seed = 1)
    {
        var gen = new Generator((ulong)seed);
        var tokens = model.Config.MpImageTokenLength;
        var rows = imagesPerRow.Select((n, r) => Enumerable.Repeat((long)model.ImageTokenId, n * tokens)
            .Concat(randint(1, 50, [textPerRow[r]], generator: gen).data<long>().ToArray()).ToArray()).ToList();
        var width = rows.Max(r => r.Length);
        var ids = zeros(rows.Count, width, int64);
        var mask = zeros(rows.Count, width, int64);
        for (var r = 0; r < rows.Count; r++)
        {
            ids[r, (width - rows[r].Length)..] = tensor(rows[r]);
            mask[r, (width - rows[r].Length)..] = 1;
        }
        var nImages = imagesPerRow.Sum();
        var images = nImages == 0 ? null : rand([nImages, 3, model.Config.VitImgSize, model.Config.VitImgSize], generator: gen);
        return (ids, mask, images);
    }
}
