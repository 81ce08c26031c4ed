using System.Text.Json;
using System.Text.Json.Nodes;
using Native = Tokenizers.DotNet.Tokenizer;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> run by the Rust <c>tokenizers</c> library (through Tokenizers.DotNet), so encoding and
/// decoding match Hugging Face for every model type, normalizer and pre-tokenizer. nanoVLM's extra tokens are added as special
/// tokens after the largest existing id; no BOS or other post-processor token is added; pad = eos. A tokenizer.json's
/// <c>padding</c> and <c>truncation</c> settings are ignored, as nanoVLM's use of the tokenizer ignores them: lengths are the collator's business.
/// </summary>
public sealed class Tokenizer : IDisposable
{
    /// <summary>Ids at or above this are refused (the embedding table would be absurd; also keeps <c>max id + 1</c> from overflowing).</summary>
    const int MaxTokenId = 1 << 24;
    /// <summary>The largest tokenizer.json read (the largest known ones, Gemma's, are about 33 MB).</summary>
    public const long MaxFileBytes = 64 << 20;
    static readonly string[] EosFallbacks = ["<|endoftext|>", "</s>", "<eos>", "<|im_end|>", "[SEP]"];

    readonly Native _native;
    readonly Lazy<Native> _nativeKeepingSpecial;
    readonly Dictionary<string, int> _tokenIds;
    readonly Lazy<string[]> _tokens;
    readonly bool _byteLevel;

    /// <summary>The tokenizer.json this was loaded from (named in errors).</summary>
    public string Source { get; }
    public int EosTokenId { get; }
    public int PadTokenId => EosTokenId;
    /// <summary>Largest id + 1, extra tokens included (<c>len(tokenizer)</c> in transformers).</summary>
    public int VocabSize { get; }
    /// <summary>The id of the model's unknown token (a word-level vocabulary's <c>[UNK]</c>); null when it has none (byte-level BPE).</summary>
    public int? UnknownTokenId { get; }

    /// <summary>The extra tokens' ids by their config name (<c>image_token</c> -> id of <c>&lt;|image|&gt;</c>).</summary>
    public IReadOnlyDictionary<string, int> ExtraTokenIds { get; }

    /// <summary>The special added tokens (eos, chat markers, nanoVLM's extra tokens): a decoded answer leaves them out.</summary>
    public IReadOnlySet<int> SpecialTokenIds { get; }

    /// <summary>Byte-level BPE (GPT-2's alphabet): an answer's bytes are its tokens' <see cref="TokenBytes"/> one after another.</summary>
    public bool IsByteLevel => _byteLevel;

    Tokenizer(string source, JsonObject json, int eosTokenId, Dictionary<string, int> tokenIds, Dictionary<string, int> extraIds)
    {
        Source = source;
        EosTokenId = eosTokenId;
        _tokenIds = tokenIds;
        VocabSize = tokenIds.Values.Max() + 1;
        ExtraTokenIds = extraIds;
        SpecialTokenIds = (json["added_tokens"] as JsonArray ?? []).Where(t => t?["special"]?.GetValue<bool>() == true)
            .Select(t => tokenIds.GetValueOrDefault(t!["content"]!.GetValue<string>(), -1)).Where(id => id >= 0).Append(eosTokenId).ToHashSet();
        UnknownTokenId = json["model"]?["unk_token"] is JsonValue unk && unk.TryGetValue<string>(out var unkToken) && tokenIds.TryGetValue(unkToken, out var unkId)
            ? unkId : null;
        // Byte-level BPE: its decoder (or pre-tokenizer, alone or in a sequence) is ByteLevel; only those small nodes are read.
        _byteLevel = $"{json["decoder"]?.ToJsonString()}{json["pre_tokenizer"]?.ToJsonString()}".Contains("\"ByteLevel\"", StringComparison.Ordinal);
        _tokens = new(() =>
        {
            var tokens = new string[VocabSize];
            foreach (var (token, id) in _tokenIds) tokens[id] = token;
            return tokens;
        });
        _native = LoadNative(json, source);
        _nativeKeepingSpecial = new Lazy<Native>(() => LoadNative(WithoutSpecialFlags(json), source), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Loads <paramref name="folderOrTokenizerJson"/> (a folder holding tokenizer.json, or the file itself); the sibling
    /// tokenizer_config.json / special_tokens_map.json name the eos token when present.</summary>
    public static Tokenizer Load(string folderOrTokenizerJson, IReadOnlyDictionary<string, string>? extraTokens = null)
    {
        var file = Directory.Exists(folderOrTokenizerJson) ? Path.Combine(folderOrTokenizerJson, "tokenizer.json") : folderOrTokenizerJson;
        if (!File.Exists(file))
            throw new NanoVlmException(Directory.Exists(folderOrTokenizerJson)
                ? $"{folderOrTokenizerJson}: folder has no tokenizer.json"
                : $"{folderOrTokenizerJson}: no such tokenizer folder or tokenizer.json file");
        var json = ParseObject(file, MaxFileBytes);
        var tokenIds = ReadTokenIds(json, file);
        var extraIds = AddExtraTokens(json, tokenIds, extraTokens ?? new Dictionary<string, string>());
        json["post_processor"] = null;
        json["padding"] = null;
        json["truncation"] = null;
        var eos = FindEosToken(Path.GetDirectoryName(Path.GetFullPath(file))!, tokenIds, file);
        return new Tokenizer(file, json, tokenIds[eos], tokenIds, extraIds);
    }

    /// <summary>The token ids of <paramref name="text"/>; no BOS/EOS is added.</summary>
    public int[] Encode(string text)
    {
        if (text.Length == 0) return [];
        try
        {
            return Array.ConvertAll(_native.Encode(text), id => (int)id);
        }
        catch (Tokenizers.DotNet.TokenizerException e)
        {
            throw new NanoVlmException($"{Source}: cannot encode \"{Excerpt(text)}\" ({OneLine(e.Message)})");
        }
    }

    /// <summary>Ids back to text. Ids outside the vocabulary are ignored, as Hugging Face does.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var known = ids.Where(id => id >= 0 && id < VocabSize).Select(id => (uint)id).ToArray();
        if (known.Length == 0) return "";
        return (skipSpecialTokens ? _native : _nativeKeepingSpecial.Value).Decode(known);
    }

    /// <summary>
    /// The bytes one token stands for (what OpenAI's <c>logprobs</c> report): for a byte-level BPE vocabulary (GPT-2's, SmolLM2's)
    /// the bytes its characters encode, which may be part of a UTF-8 character; otherwise the UTF-8 of its decoded text.
    /// </summary>
    public byte[] TokenBytes(int id)
    {
        if (id < 0 || id >= VocabSize || _tokens.Value[id] is not { } token) return [];
        if (!_byteLevel || ExtraTokenIds.Values.Contains(id) || id == EosTokenId) return System.Text.Encoding.UTF8.GetBytes(Decode([id]));
        var bytes = new List<byte>(token.Length);
        foreach (var c in token)
            if (ByteLevelChars.Value.TryGetValue(c, out var b)) bytes.Add(b);
            else bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(c.ToString()));
        return [.. bytes];
    }

    /// <summary>GPT-2's byte-level alphabet: printable bytes stand for themselves, the others for the characters from U+0100 on.</summary>
    static readonly Lazy<Dictionary<char, byte>> ByteLevelChars = new(() =>
    {
        var map = new Dictionary<char, byte>();
        var next = 256;
        for (var b = 0; b < 256; b++)
            map[(char)(b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? b : next++)] = (byte)b;
        return map;
    });

    /// <summary>The id of a vocabulary or added token; an unknown token is an error.</summary>
    public int TokenToId(string token) =>
        _tokenIds.TryGetValue(token, out var id) ? id : throw new NanoVlmException($"{Source}: token '{token}' is not in the vocabulary");

    public bool TryTokenToId(string token, out int id) => _tokenIds.TryGetValue(token, out id);

    /// <summary>Encodes several texts, truncating each to <paramref name="maxLength"/> tokens (keeping the first ones) and
    /// left-padding with the pad token to the longest; the mask is 1 on real tokens.</summary>
    public PaddedBatch EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null)
    {
        var encoded = texts.Select(t => Encode(t)).Select(ids => maxLength is { } m && ids.Length > m ? ids[..m] : ids).ToArray();
        return PaddedBatch.LeftPad(encoded, PadTokenId);
    }

    public void Dispose()
    {
        _native.Dispose();
        if (_nativeKeepingSpecial.IsValueCreated) _nativeKeepingSpecial.Value.Dispose();
    }

    static JsonObject ParseObject(string file, long maxBytes)
    {
        try
        {
            return JsonNode.Parse(RegularFile.ReadAllText(file, maxBytes, "tokenizer file"), documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) as JsonObject
                   ?? throw new NanoVlmException($"{file}: not a tokenizer.json (the top level is not a JSON object)");
        }
        catch (JsonException e)
        {
            throw new NanoVlmException($"{file}: malformed JSON ({OneLine(e.Message)})");
        }
    }

    static Dictionary<string, int> ReadTokenIds(JsonObject json, string file)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            if (json["model"] is not JsonObject model || model["type"]?.GetValue<string>() is not { } type)
                throw new NanoVlmException($"{file}: not a tokenizer.json (no model.type)");
            switch (model["vocab"])
            {
                case JsonObject map when type is "BPE" or "WordPiece" or "WordLevel":
                    foreach (var (token, id) in map) ids[token] = Present(id, $"the id of '{token}'").GetValue<int>();
                    break;
                case JsonArray list when type == "Unigram":
                    for (var i = 0; i < list.Count; i++) ids[Present(Present(list[i], $"entry {i}")[0], $"the piece of entry {i}").GetValue<string>()] = i;
                    break;
                default:
                    throw new NanoVlmException($"{file}: unsupported or malformed model (type '{type}')");
            }
            foreach (var added in json["added_tokens"] as JsonArray ?? [])
            {
                var entry = Present(added, "an added token");
                ids[Present(entry["content"], "an added token's content").GetValue<string>()] = Present(entry["id"], "an added token's id").GetValue<int>();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or IndexOutOfRangeException)
        {
            throw new NanoVlmException($"{file}: malformed vocabulary ({OneLine(e.Message)})");
        }
        if (ids.Count == 0) throw new NanoVlmException($"{file}: empty vocabulary");
        if (json["model"]!["unk_token"] is JsonValue unk && unk.TryGetValue<string>(out var unkToken) && !ids.ContainsKey(unkToken))
            throw new NanoVlmException($"{file}: the model's unk_token '{unkToken}' is not in the vocabulary");
        if (ids.Values.Any(id => id < 0)) throw new NanoVlmException($"{file}: negative token id");
        if (ids.Values.Max() >= MaxTokenId) throw new NanoVlmException($"{file}: token id {ids.Values.Max()} is over the limit of {MaxTokenId - 1}");
        return ids;
    }

    /// <summary>A JSON value that must be there: null (missing, or JSON null) is a malformed vocabulary, checked rather than dereferenced.</summary>
    static JsonNode Present(JsonNode? node, string what) => node ?? throw new FormatException($"{what} is missing or null");

    static Dictionary<string, int> AddExtraTokens(JsonObject json, Dictionary<string, int> tokenIds, IReadOnlyDictionary<string, string> extraTokens)
    {
        var added = json["added_tokens"] as JsonArray ?? (JsonArray)(json["added_tokens"] = new JsonArray());
        var extraIds = new Dictionary<string, int>();
        foreach (var (name, text) in extraTokens)
        {
            var existing = added.FirstOrDefault(t => t!["content"]!.GetValue<string>() == text);
            if (existing is not null)
                existing["special"] = true;
            else
            {
                var id = tokenIds.TryGetValue(text, out var vocabId) ? vocabId : tokenIds.Values.Max() + 1;
                added.Add(new JsonObject
                {
                    ["id"] = id, ["content"] = text, ["single_word"] = false, ["lstrip"] = false,
                    ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
                });
                tokenIds[text] = id;
            }
            extraIds[name] = tokenIds[text];
        }
        return extraIds;
    }

    static string FindEosToken(string folder, Dictionary<string, int> tokenIds, string file)
    {
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            var eos = ParseObject(path, RegularFile.MaxConfigBytes)["eos_token"];
            var text = eos switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonObject o when o["content"] is JsonValue c && c.TryGetValue<string>(out var s) => s,
                _ => null,
            };
            if (text is null) continue;
            return tokenIds.ContainsKey(text) ? text : throw new NanoVlmException($"{path}: eos_token '{text}' is not in the vocabulary");
        }
        return EosFallbacks.FirstOrDefault(tokenIds.ContainsKey)
               ?? throw new NanoVlmException($"{file}: no eos token (no tokenizer_config.json eos_token and none of {string.Join(", ", EosFallbacks)})");
    }

    static JsonObject WithoutSpecialFlags(JsonObject json)
    {
        var copy = (JsonObject)json.DeepClone();
        foreach (var added in copy["added_tokens"] as JsonArray ?? []) added!["special"] = false;
        return copy;
    }

    static Native LoadNative(JsonObject json, string source)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"nanovlm-tokenizer-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(temp, json.ToJsonString());
            return new Native(temp);
        }
        catch (Tokenizers.DotNet.TokenizerException e)
        {
            throw new NanoVlmException($"{source}: invalid tokenizer.json ({OneLine(e.Message)})");
        }
        finally
        {
            File.Delete(temp);
        }
    }

    static string OneLine(string message) => message.ReplaceLineEndings(" ");

    /// <summary>The start of a text, on one line, to name it in an error.</summary>
    static string Excerpt(string text) => OneLine(text.Length > 60 ? text[..60] + "..." : text);
}
