using System.Text.Json;
using System.Text.Json.Nodes;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Checkpoints;

/// <summary>
/// A LoRA adapter folder as PEFT writes it: <c>adapter_config.json</c> and <c>adapter_model.safetensors</c> (tensors named
/// <c>base_model.model.{module path}.lora_A.weight</c> / <c>.lora_B.weight</c>), nothing of the base model.
/// </summary>
public static class AdapterFiles
{
    public const string ConfigFile = "adapter_config.json", WeightsFile = "adapter_model.safetensors";

    public static bool IsAdapterFolder(string folder) => File.Exists(Path.Combine(folder, ConfigFile));

    public static void Save(string folder, LoraAdapter adapter)
    {
        Directory.CreateDirectory(folder);
        var c = adapter.Config;
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = null,
            ["r"] = c.Rank,
            ["lora_alpha"] = c.Alpha,
            ["lora_dropout"] = c.Dropout,
            ["target_modules"] = c.TargetModules,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["init_lora_weights"] = true,
            ["modules_to_save"] = null,
            ["inference_mode"] = true,
            ["base_model_name_or_path"] = c.BaseModel,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFile), config.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n");
        SafetensorsFile.Save(Path.Combine(folder, WeightsFile), adapter.PeftTensors().Select(t => new KeyValuePair<string, TorchSharp.torch.Tensor>(t.Name, t.Weight)),
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>The adapter's settings from <c>adapter_config.json</c>; what nanoVLM's LoRA cannot compute is refused.</summary>
    public static LoraConfig ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path)) throw new NanoVlmException($"{folder}: not an adapter folder (no {ConfigFile})");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(RegularFile.ReadAllText(path, RegularFile.MaxConfigBytes, "adapter config")) as JsonObject
                   ?? throw new NanoVlmException($"{path}: expected a JSON object");
        }
        catch (JsonException e) { throw new NanoVlmException($"{path}: invalid JSON ({e.Message.Split('\n')[0]})"); }
        string Text(string key) => json[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
        if (Text("peft_type") != "LORA") throw new NanoVlmException($"{path}: peft_type '{Text("peft_type")}' is not LORA");
        if (json["bias"] is not null && Text("bias") != "none") throw new NanoVlmException($"{path}: bias '{Text("bias")}' is not supported (only none)");
        foreach (var flag in new[] { "fan_in_fan_out", "use_rslora", "use_dora" })
            if (json[flag] is JsonValue f && f.GetValueKind() == JsonValueKind.True) throw new NanoVlmException($"{path}: {flag} true is not supported");
        foreach (var pattern in new[] { "alpha_pattern", "rank_pattern" })
            if (json[pattern] is JsonObject { Count: > 0 }) throw new NanoVlmException($"{path}: a non-empty {pattern} is not supported");
        try
        {
            var targets = json["target_modules"] switch
            {
                JsonValue v when v.TryGetValue<string>(out var regex) => regex,
                // A list of names: PEFT adapts every module whose path ends with one of them.
                JsonArray names => $@"(.*\.)?({string.Join('|', names.Select(n => System.Text.RegularExpressions.Regex.Escape(n!.GetValue<string>())))})",
                _ => throw new NanoVlmException($"{path}: target_modules must be a string or a list of names"),
            };
            var config = new LoraConfig
            {
                Rank = json["r"]?.GetValue<int>() ?? throw new NanoVlmException($"{path}: missing r"),
                Alpha = json["lora_alpha"]?.GetValue<double>() ?? 8,
                Dropout = json["lora_dropout"]?.GetValue<double>() ?? 0,
                TargetModules = targets,
                BaseModel = Text("base_model_name_or_path") is { Length: > 0 } b ? b : null,
            };
            config.Validate();
            return config;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new NanoVlmException($"{path}: {e.Message.Split('\n')[0]}");
        }
    }

    /// <summary>The adapter in <paramref name="folder"/>, built for <paramref name="model"/> (not attached).</summary>
    public static LoraAdapter Load(string folder, VisionLanguageModel model)
    {
        var adapter = new LoraAdapter(model, ReadConfig(folder));
        try
        {
            using var weights = SafetensorsFile.Open(Path.Combine(folder, WeightsFile));
            adapter.Load(name => weights.Entries.ContainsKey(name) ? weights.Load(name) : null, weights.Path);
            var extra = weights.Entries.Keys.Except(adapter.PeftTensors().Select(t => t.Name)).FirstOrDefault();
            if (extra is not null) throw new NanoVlmException($"{weights.Path}: {extra} is not a tensor of an adapted linear of this model");
            return adapter;
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
    }
}
