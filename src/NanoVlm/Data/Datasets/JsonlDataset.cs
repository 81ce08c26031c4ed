using System.Text.Json;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// Users' own data: a JSONL file, one sample per line, <c>{"images": ["relative/path.png", ...], "conversations": [{"user": "...",
/// "assistant": "..."}, ...]}</c>, image paths relative to the file's folder. Turns with an empty answer are dropped; a line left
/// without turns is skipped and counted; a line that is not such an object is an error naming the file and line.
/// </summary>
public sealed class JsonlDataset : IVqaDataset
{
    /// <summary>The largest JSONL file read (its samples are held in memory), and the longest line.</summary>
    public const long MaxFileBytes = 512L << 20;
    public const int MaxLineChars = 1 << 20;

    readonly List<VqaSample> _samples = [];

    public string Name { get; }
    public int Count => _samples.Count;
    public IReadOnlyList<int> GroupStarts { get; } = [0];
    public SkipCounter Skipped { get; } = new();

    public JsonlDataset(string path)
    {
        Name = path;
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var (number, line) in RegularFile.ReadLines(path, MaxFileBytes, MaxLineChars, "JSONL file"))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var source = $"{path} line {number}";
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                var images = root.TryGetProperty("images", out var i) ? i.EnumerateArray().Select(e => VqaImage.FromFile(Path.Combine(folder, ImagePath(e, source)))).ToArray() : [];
                if (!root.TryGetProperty("conversations", out var conversations))
                    throw new NanoVlmException($"{source}: missing field 'conversations'");
                var turns = conversations.EnumerateArray()
                    .Select((c, k) => new VqaTurn(Text(c, "user", source, k), Text(c, "assistant", source, k)))
                    .Where(t => !string.IsNullOrWhiteSpace(t.Assistant)).ToArray();
                if (turns.Length == 0) { Skipped.Add("empty answer"); continue; }
                _samples.Add(new VqaSample(images, turns, source));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
            {
                throw new NanoVlmException($"{source}: expected {{\"images\": [...], \"conversations\": [{{\"user\": ..., \"assistant\": ...}}]}} ({e.Message.ReplaceLineEndings(" ")})");
            }
        }
    }

    /// <summary>A turn's text; a missing key is named, with the keys the turn has.</summary>
    static string Text(JsonElement turn, string key, string source, int index)
    {
        if (turn.ValueKind != JsonValueKind.Object)
            throw new NanoVlmException($"{source}: conversations[{index}] is {turn.ValueKind.ToString().ToLowerInvariant()}, not an object with 'user' and 'assistant'");
        if (!turn.TryGetProperty(key, out var value))
            throw new NanoVlmException($"{source}: conversations[{index}] has no '{key}' (its keys: {string.Join(", ", turn.EnumerateObject().Select(p => $"'{p.Name}'"))})");
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString() ?? "",
            JsonValueKind.Null => "",
            _ => throw new NanoVlmException($"{source}: conversations[{index}].{key} is {value.ValueKind.ToString().ToLowerInvariant()}, not a string"),
        };
    }

    static string ImagePath(JsonElement element, string source) =>
        element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 } path && !path.Contains('\0')
            ? path
            : throw new NanoVlmException($"{source}: image {element.GetRawText()} is not a file path (a non-empty string without NUL characters)");

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows) => rows.Select(r => (r, _samples[r]));
}
