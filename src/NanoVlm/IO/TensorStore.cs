using System.Text.Json;
using static TorchSharp.torch;

namespace NanoVlm.IO;

/// <summary>The tensors of a checkpoint folder: <c>model.safetensors</c>, or the shards named by <c>model.safetensors.index.json</c>.</summary>
public sealed class TensorStore : IDisposable
{
    readonly Dictionary<string, SafetensorsFile> byName = new();
    readonly List<SafetensorsFile> files = new();

    public string Source { get; }

    TensorStore(string source) => Source = source;

    public static bool Exists(string folder) =>
        File.Exists(Path.Combine(folder, "model.safetensors")) || File.Exists(Path.Combine(folder, "model.safetensors.index.json"));

    public static TensorStore Open(string folder)
    {
        var single = Path.Combine(folder, "model.safetensors");
        var index = Path.Combine(folder, "model.safetensors.index.json");
        if (File.Exists(single)) return FromFiles(single, [single]);
        if (!File.Exists(index)) throw new NanoVlmException($"{folder}: missing model.safetensors");
        return FromFiles(index, ShardsOf(index, folder));
    }

    static TensorStore FromFiles(string source, IEnumerable<string> paths)
    {
        var store = new TensorStore(source);
        try
        {
            foreach (var path in paths)
            {
                var file = SafetensorsFile.Open(path);
                store.files.Add(file);
                foreach (var name in file.Entries.Keys)
                    if (!store.byName.TryAdd(name, file))
                        throw new NanoVlmException($"{path}: tensor '{name}' is also in {store.byName[name].Path}");
            }
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    static IEnumerable<string> ShardsOf(string index, string folder)
    {
        try
        {
            using var doc = JsonDocument.Parse(RegularFile.ReadAllText(index, RegularFile.MaxConfigBytes, "safetensors index"));
            var shards = doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().ToList();
            foreach (var shard in shards)
                if (shard.Contains('/') || shard.Contains('\\') || shard.StartsWith('.'))
                    throw new NanoVlmException($"{index}: shard name '{shard}' is not a plain file name");
            return shards.Select(s => Path.Combine(folder, s)).ToList();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new NanoVlmException($"{index}: invalid index ({e.Message.Split('\n')[0]})");
        }
    }

    public IEnumerable<string> Names => byName.Keys;

    public bool Contains(string name) => byName.ContainsKey(name);

    public long[] Shape(string name) => byName[name].Entries[name].Shape;

    public Tensor Load(string name) => byName[name].Load(name);

    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
    }
}
