using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Checkpoints;

/// <summary>The tensors of a checkpoint folder: <c>model.safetensors</c>, or the shards named by <c>model.safetensors.index.json</c>.</summary>
public sealed class TensorStore : IDisposable
{
    readonly Dictionary<string, SafetensorsFile> byName = new();
    readonly List<SafetensorsFile> files = new();

    public string Source { get; }

    TensorStore(string source) => Source = source;

    public static TensorStore Open(string folder)
    {
        var layout = new CheckpointLayout(folder);
        if (!File.Exists(layout.WeightsPath) && !File.Exists(layout.WeightsIndexPath))
            throw new NanoVlmException($"{folder}: missing {CheckpointLayout.WeightsFile}");
        return FromFiles(layout.IsSharded ? layout.WeightsIndexPath : layout.WeightsPath, layout.WeightFiles());
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

    public IEnumerable<string> Names => byName.Keys;

    public bool Contains(string name) => byName.ContainsKey(name);

    public long[] Shape(string name) => byName[name].Entries[name].Shape;

    public Tensor Load(string name) => byName[name].Load(name);

    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
    }
}
