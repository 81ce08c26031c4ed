using System.Text.Json;

namespace NanoVlm.Data;

/// <summary>
/// Users' own data: a JSONL file, one sample per line, <c>{"images": ["relative/path.png", ...], "conversations": [{"user": "...",
/// "assistant": "..."}, ...]}</c>, image paths relative to the file's folder. Turns with an empty answer are dropped; a line left
/// without turns is skipped and counted; a line that is not such an object is an error naming the file and line.
/// </summary>
public sealed class JsonlDataset : IVqaDataset
{
    readonly List<VqaSample> _samples = [];

    public string Name { get; }
    public int Count => _samples.Count;
    public IReadOnlyList<int> GroupStarts { get; } = [0];
    public SkipCounter Skipped { get; } = new();

    public JsonlDataset(string path)
    {
        Name = path;
        if (!File.Exists(path)) throw new NanoVlmException($"{path}: file not found");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var source = $"{path} line {number}";
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                var images = root.TryGetProperty("images", out var i) ? i.EnumerateArray().Select(e => VqaImage.FromFile(Path.Combine(folder, e.GetString()!))).ToArray() : [];
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

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows) => rows.Select(r => (r, _samples[r]));
}
