using System.Text.Json;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>metrics.jsonl: one JSON object per line; on resume, lines past the resumed step are dropped.</summary>
internal sealed class MetricsLog
{
    static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    readonly string path;

    public MetricsLog(string path, int resumedStep)
    {
        this.path = path;
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(line =>
        {
            try { return JsonDocument.Parse(line).RootElement.GetProperty("step").TryGetInt32(out var step) && step <= resumedStep; }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return false; }
        }).ToList();
        AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + '\n');
    }

    public void Write(object record) => File.AppendAllText(path, JsonSerializer.Serialize(record, Json) + '\n');
}
