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
                    .Select(c => new VqaTurn(c.GetProperty("user").GetString() ?? "", c.GetProperty("assistant").GetString() ?? ""))
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

    static string ImagePath(JsonElement element, string source) =>
        element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 } path && !path.Contains('\0')
            ? path
            : throw new NanoVlmException($"{source}: image {element.GetRawText()} is not a file path (a non-empty string without NUL characters)");

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows) => rows.Select(r => (r, _samples[r]));
}
