using System.Text.Json;
using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>Where a run stands: enough to continue it exactly (with the optimizer moments and the RNG).</summary>
public sealed record TrainingProgress(int Step, int Epoch, int BatchInEpoch, double? BestMetric, int BadSteps, int? BestStep = null);

/// <summary>
/// Resumable checkpoints in <c>{run}/checkpoints/step-N/</c>: a nanoVLM checkpoint (config.json, model.safetensors)
/// plus <c>training_state.safetensors</c> (AdamW moments, RNG) and <c>progress.json</c>. The file <c>latest</c> names the
/// newest complete folder and is replaced atomically after the folder is fully written, so a kill at any moment leaves
/// the previous checkpoint loadable.
/// </summary>
public static class TrainingState
{
    const string StateFile = "training_state.safetensors", ProgressFile = "progress.json", Latest = "latest";
    const int Keep = 2;

    public static string Folder(string runDir) => Path.Combine(runDir, "checkpoints");

    public static string Save(string runDir, Action<string> saveModel, AdamW optimizer, TrainingProgress progress)
    {
        var root = Folder(runDir);
        var name = $"step-{progress.Step:D7}";
        var dir = Path.Combine(root, name);
        var tmp = Path.Combine(root, $".{name}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(root))
            foreach (var stale in Directory.GetDirectories(root, ".step-*.tmp-*")) Directory.Delete(stale, true); // left by a killed run
        Directory.CreateDirectory(tmp);
        saveModel(tmp);
        using var rng = get_rng_state();
        SafetensorsFile.Save(Path.Combine(tmp, StateFile), optimizer.State().Append(new("rng", rng)),
            new Dictionary<string, string> { ["optimizer_steps"] = optimizer.Steps.ToString() });
        AtomicFile.WriteAllText(Path.Combine(tmp, ProgressFile), JsonSerializer.Serialize(progress));
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.Move(tmp, dir);
        AtomicFile.WriteAllText(Path.Combine(root, Latest), name);
        foreach (var old in Directory.GetDirectories(root, "step-*").Order(StringComparer.Ordinal).SkipLast(Keep))
            Directory.Delete(old, true);
        return dir;
    }

    /// <summary>The newest complete checkpoint folder of a run, or null when it has none.</summary>
    public static string? LatestFolder(string runDir)
    {
        var pointer = Path.Combine(Folder(runDir), Latest);
        if (!File.Exists(pointer)) return null;
        var dir = Path.Combine(Folder(runDir), RegularFile.ReadAllText(pointer, RegularFile.MaxConfigBytes, "checkpoint pointer").Trim());
        return Directory.Exists(dir) ? dir : throw new NanoVlmException($"{pointer}: names a missing checkpoint folder {dir}");
    }

    public static TrainingProgress Restore(string checkpointDir, AdamW optimizer)
    {
        var progressPath = Path.Combine(checkpointDir, ProgressFile);
        TrainingProgress progress;
        try
        {
            progress = JsonSerializer.Deserialize<TrainingProgress>(RegularFile.ReadAllText(progressPath, RegularFile.MaxConfigBytes, "training progress"))
                       ?? throw new NanoVlmException($"{progressPath}: empty");
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new NanoVlmException($"{progressPath}: cannot read training progress ({e.Message.Split('\n')[0]})");
        }
        using var state = SafetensorsFile.Open(Path.Combine(checkpointDir, StateFile));
        if (!long.TryParse(state.Metadata.GetValueOrDefault("optimizer_steps"), out var steps))
            throw new NanoVlmException($"{state.Path}: missing optimizer_steps metadata");
        optimizer.Restore(steps, name => state.Entries.ContainsKey(name) ? state.Load(name) : null);
        if (state.Entries.GetValueOrDefault("rng") is not { Dtype: "U8", Shape.Length: 1 })
            throw new NanoVlmException($"{state.Path}: 'rng' must be a 1-D U8 tensor (the RNG state)");
        using var rng = state.Load("rng");
        set_rng_state(rng);
        return progress;
    }
}
