using System.Text.Json;
using System.Text.Json.Nodes;
using NanoVlm.Models;
using NanoVlm.Training;

namespace NanoVlm.Tests.Reliability;

/// <summary>Run folders and run.json files a training run must refuse, and samples that must not stop it.</summary>
public sealed class TrainingRunHostileTests : IDisposable
{
    readonly TempDir _dir = new();

    TrainArgs Tiny(string name, string data, int? threads = 1) => new()
    {
        Preset = "tiny", Data = [$"jsonl:{data}"], Tokenizer = Presets.WordLevelTokenizer, Output = _dir.Path, RunName = name,
        EvalSamples = 0, Threads = threads, Workers = 1,
        Options = new TrainingOptions { BatchSize = 2, GradientAccumulationSteps = 1, MaxSteps = 2, EvalInterval = 2, ValRatio = 0 },
    };

    string Data(int count = 4) => Cli.TestJsonl.Write(_dir["data"], count);

    [Fact]
    public void Resuming_a_folder_without_a_checkpoint_is_refused()
    {
        using (TrainingRun.Start(Tiny("fresh", Data()))) { } // prepared, never trained
        HostileInput.Refused(() => TrainingRun.Resume(_dir["fresh"]).Dispose(), _dir["fresh"], "no checkpoint to resume from");
    }

    [Theory]
    [InlineData("Data", "null")]
    [InlineData("Data", "[null]")]
    [InlineData("Options", "null")]
    [InlineData("Device", "null")]
    [InlineData("Output", "null")]
    [InlineData("Threads", "1.5")]
    public void A_run_json_with_nulls_or_wrong_types_is_refused_naming_it(string key, string value)
    {
        var folder = Directory.CreateDirectory(_dir["run"]).FullName;
        var json = JsonSerializer.SerializeToNode(Tiny("run", Data()))!.AsObject();
        json[key] = JsonNode.Parse(value);
        File.WriteAllText(Path.Combine(folder, "run.json"), json.ToJsonString());
        HostileInput.Refused(() => TrainingRun.Resume(folder).Dispose(), Path.Combine(folder, "run.json"), "invalid");
    }

    [Fact]
    public void The_thread_count_in_effect_is_stored_in_run_json()
    {
        using (TrainingRun.Start(Tiny("threads", Data(), threads: null))) { }
        var stored = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir["threads"], "run.json")))!["Threads"]!.GetValue<int>();
        Assert.Equal(Environment.ProcessorCount, stored);
    }

    [Fact]
    public void A_second_run_in_a_folder_in_use_is_refused_naming_the_holder()
    {
        var data = Data();
        using (TrainingRun.Start(Tiny("busy", data)))
            HostileInput.Refused(() => TrainingRun.Start(Tiny("busy", data)).Dispose(), _dir["busy"], $"(pid {Environment.ProcessId})");
        // Free again once the first is disposed: what refuses it now is the run it holds, not a lock.
        HostileInput.Refused(() => TrainingRun.Start(Tiny("busy", data)).Dispose(), _dir["busy"], "already holds a run");
    }

    [Fact]
    public void Stray_image_tokens_are_removed_and_counted_and_undecodable_samples_skipped_naming_their_line()
    {
        var data = Data();
        File.WriteAllBytes(_dir["data/broken.png"], [1, 2, 3]);
        File.AppendAllLines(data,
        [
            "{\"images\": [\"1.png\"], \"conversations\": [{\"user\": \"What is <|image|> this?\", \"assistant\": \"plain\"}]}",
            "{\"images\": [\"0.png\"], \"conversations\": [{\"user\": \"What <|ima<|image|>ge|> is this?\", \"assistant\": \"stripes <|image|>\"}]}",
            "{\"images\": [\"broken.png\"], \"conversations\": [{\"user\": \"What is this?\", \"assistant\": \"plain\"}]}",
        ]);
        using var run = TrainingRun.Start(Tiny("stray", data) with { Options = Tiny("stray", data).Options with { MaxSteps = 6, BatchSize = 1 } });
        Assert.Equal(6, run.Trainer.Run(run.Resuming).Steps);
        var report = string.Join("\n", run.SkipReport());
        Assert.Contains("texts with a stray image token (removed)", report);
        Assert.Contains($"undecodable image (first: {data} line 7", report);
    }

    public void Dispose() => _dir.Dispose();
}
