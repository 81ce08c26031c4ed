using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Training;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Reliability;

/// <summary>Values that used to end in a stack trace, an abort or a silently wrong run: each is now a one-line refusal.</summary>
public sealed class HostileValueTests : IDisposable
{
    readonly TempDir _dir = new();

    [Theory]
    [InlineData(double.NaN, 0.9, "Temperature")]
    [InlineData(double.PositiveInfinity, 0.9, "Temperature")]
    [InlineData(0.5, double.NaN, "TopP")]
    public void Sampling_settings_must_be_finite(double temperature, double topP, string problem) =>
        HostileInput.Refused(() => new GenerationOptions { Temperature = temperature, TopP = topP }.Validate(), problem);

    public static TheoryData<string, TrainingOptions> HostileRecipes() => new()
    {
        { "WeightDecay", new TrainingOptions { WeightDecay = double.NaN } },
        { "LrMp", new TrainingOptions { LrMp = double.PositiveInfinity } },
        { "LrVision", new TrainingOptions { LrVision = double.NaN } },
        { "LrLanguage", new TrainingOptions { LrLanguage = double.PositiveInfinity } },
        { "MaxGradNorm", new TrainingOptions { MaxGradNorm = double.PositiveInfinity } },
        { "BatchSize", new TrainingOptions { BatchSize = int.MaxValue } },
        { "CheckpointInterval", new TrainingOptions { CheckpointInterval = -1 } },
    };

    [Theory]
    [MemberData(nameof(HostileRecipes))]
    public void Recipe_values_out_of_range_are_refused(string option, TrainingOptions options) => HostileInput.Refused(options.Validate, option);

    [Fact]
    public void Accumulation_beyond_the_data_and_epochs_that_overflow_are_refused()
    {
        HostileInput.Refused(() => new TrainingOptions { GradientAccumulationSteps = int.MaxValue }.Steps(16), "GradientAccumulationSteps", "no optimizer step could happen");
        HostileInput.Refused(() => new TrainingOptions { Epochs = int.MaxValue, GradientAccumulationSteps = 1 }.Steps(16), "Epochs", "over the limit");
        Assert.Equal(10, new TrainingOptions { Epochs = 5, GradientAccumulationSteps = 4 }.Steps(8));
        Assert.Equal(1, new TrainingOptions { Epochs = 2, GradientAccumulationSteps = 4 }.Steps(2));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100_000)]
    public void Thread_counts_out_of_range_are_refused(int threads) => HostileInput.Refused(() => Devices.ConfigureThreads(threads), "Threads");

    [Fact]
    public void A_negative_cutoff_is_refused() =>
        HostileInput.Refused(() => DatasetView.Split(new JsonlDataset(Cli.TestJsonl.Write(_dir["data"])), cutoff: -5), "Cutoff");

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void An_evaluation_batch_size_below_one_is_refused(int batchSize) =>
        HostileInput.Refused(() => Evaluator.Run(null!, null!, [], Scoring.ExactMatch, batchSize), "BatchSize");

    [Theory]
    [InlineData("[null]")]
    [InlineData("[5]")]
    [InlineData("[\"\"]")]
    [InlineData("[\"a\\u0000.png\"]")]
    public void Jsonl_image_entries_that_are_not_paths_are_refused_naming_the_line(string images)
    {
        var file = _dir["data.jsonl"];
        File.WriteAllText(file, "\n{\"images\": " + images + ", \"conversations\": [{\"user\": \"q\", \"assistant\": \"a\"}]}\n");
        HostileInput.Refused(() => _ = new JsonlDataset(file), $"{file} line 2", "not a file path");
    }

    [Fact]
    public void A_training_state_whose_rng_is_not_bytes_is_refused()
    {
        var folder = Directory.CreateDirectory(_dir["step"]).FullName;
        File.WriteAllText(Path.Combine(folder, "progress.json"), "{\"Step\":1,\"Epoch\":0,\"BatchInEpoch\":1,\"BestMetric\":null,\"BadSteps\":0}");
        using (var rng = rand(16))
            SafetensorsFile.Save(Path.Combine(folder, "training_state.safetensors"), [new("rng", rng)], new Dictionary<string, string> { ["optimizer_steps"] = "1" });
        using var model = TestModels.Create();
        using var optimizer = new AdamW([new ParamGroup("all", model.UniqueNamedParameters())]);
        HostileInput.Refused(() => TrainingState.Restore(folder, optimizer), "training_state.safetensors", "'rng' must be a 1-D U8 tensor");
    }

    [Fact]
    public void A_metrics_line_with_a_fractional_step_is_dropped_on_resume()
    {
        using var data = new Training.TinyData();
        var options = new TrainingOptions { BatchSize = 4, GradientAccumulationSteps = 1, MaxSteps = 2, EvalInterval = 2 };
        using (var model = data.NewModel()) new Trainer(model, options, _dir.Path, data.TrainingData(options)).Run();
        File.AppendAllText(_dir["metrics.jsonl"], "{\"step\": 1.5}\n{\"step\": \"x\"}\n");
        using (var model = data.NewModel()) new Trainer(model, options, _dir.Path, data.TrainingData(options)).Run(resume: true);
        Assert.DoesNotContain(File.ReadLines(_dir["metrics.jsonl"]), l => l is "{\"step\": 1.5}" or "{\"step\": \"x\"}");
    }

    [Fact]
    public void Tokenizer_json_padding_and_truncation_are_ignored()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Data.Fixture.Path("wordlevel", "tokenizer.json")))!;
        json["truncation"] = System.Text.Json.Nodes.JsonNode.Parse("{\"direction\": \"Right\", \"max_length\": 4, \"strategy\": \"LongestFirst\", \"stride\": 0}");
        json["padding"] = System.Text.Json.Nodes.JsonNode.Parse(
            "{\"strategy\": {\"Fixed\": 200}, \"direction\": \"Right\", \"pad_to_multiple_of\": null, \"pad_id\": 0, \"pad_type_id\": 0, \"pad_token\": \"<|endoftext|>\"}");
        Directory.CreateDirectory(_dir["tok"]);
        File.WriteAllText(_dir["tok/tokenizer.json"], json.ToJsonString());
        File.Copy(Data.Fixture.Path("wordlevel", "tokenizer_config.json"), _dir["tok/tokenizer_config.json"]);
        using var plain = Tokenizer.Load(Data.Fixture.Path("wordlevel"));
        using var configured = Tokenizer.Load(_dir["tok"]);
        const string text = "Question: What is this? Answer: boot Question: Is this footwear? Answer: yes";
        Assert.True(plain.Encode(text).Length > 4);
        Assert.Equal(plain.Encode(text), configured.Encode(text));
    }

    [Fact]
    public void A_prompt_longer_than_the_context_and_a_cache_too_big_for_memory_are_refused_before_allocating()
    {
        using var model = TestModels.Create();
        using var long_ = ones(1, model.Config.LmMaxPositionEmbeddings + 1, dtype: ScalarType.Int64);
        HostileInput.Refused(() => model.Generate(long_, null, null, new GenerationOptions { Greedy = true }).Dispose(), "the prompt", "exceeds the model's context");
        using var prompt = ones(1, 4, dtype: ScalarType.Int64);
        HostileInput.Refused(() => model.Generate(prompt, null, null, new GenerationOptions { Greedy = true, MaxNewTokens = int.MaxValue }).Dispose(),
            "the KV cache", "of memory");
    }

    [Fact]
    public void A_model_too_big_for_the_memory_left_is_refused_from_its_config()
    {
        var vocab16M = new VlmConfig { LmVocabSize = 1 << 24, LmBaseVocabSize = (1 << 24) - 1 };
        HostileInput.Refused(() => vocab16M.EnsureFitsInMemory("config.json", available: 8L << 30), "config.json", "needs about 36.7 GiB");
        HostileInput.Refused(() => TestModels.Tiny.EnsureFitsInMemory("config.json", training: true, available: 1000), "training the model");
        TestModels.Tiny.EnsureFitsInMemory("config.json", training: true, available: 1L << 30);
        Assert.InRange(MemoryBudget.Available() ?? 0, 1L << 20, long.MaxValue);
    }

    public void Dispose() => _dir.Dispose();
}
