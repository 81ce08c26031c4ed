using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Training;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests.Training;

/// <summary>A training run assembled by the library in a few lines, without the command line.</summary>
public sealed class TrainingRunTests : IDisposable
{
    readonly TempDir dir = new();

    /// <summary>A tiny model of the current generation (image splitting, ChatML) trained from scratch with a word-level tokenizer.</summary>
    [Fact]
    public void TrainsATinyCurrentGenerationModelFromScratch()
    {
        var config = Path.Combine(dir.Path, "config.json");
        var cfg = Presets.Get("tiny") with
        {
            VlmExtraTokens = Presets.CurrentExtraTokens, ExtraTokenAmount = 66, LmVocabSize = 64 + 66, MaxImgSize = 56, ResizeToMaxSideLen = true,
            LmMaxLength = 256,
        };
        File.WriteAllText(config, cfg.ToJson());
        var data = Tests.Cli.TestJsonl.Write(dir["data"], 12);
        using var run = TrainingRun.Start(new TrainArgs
        {
            ConfigFile = config, Data = [$"jsonl:{data}"], Tokenizer = Presets.WordLevelTokenizer, Output = dir.Path, RunName = "current",
            EvalSamples = 2, Threads = 1,
            Options = new TrainingOptions { BatchSize = 4, GradientAccumulationSteps = 1, MaxSteps = 3, EvalInterval = 3, ValRatio = 0.25 },
        });
        Assert.Equal(CheckpointGeneration.Current, run.Vlm.Generation);
        var unknown = run.Vlm.Tokenizer.TokenToId("[UNK]");
        Assert.DoesNotContain(unknown, run.Vlm.Tokenizer.Encode("<|im_start|>user\nWhat is this?<|im_end|>\n<|im_start|>assistant\nstripes<|im_end|>\n"));
        var result = run.Trainer.Run(run.Resuming);
        Assert.Equal(3, result.Steps);
        Assert.Empty(run.SkipReport());

        using var trained = PretrainedVlm.Load(result.BestFolder ?? result.LatestFolder);
        Assert.Equal(CheckpointGeneration.Current, trained.Generation);
        var image = trained.Processor.Images.DecodeFile(Path.Combine(dir["data"], "0.png"));
        using var batch = trained.Processor.EncodePrompt("What is this?", [image]);
        Assert.Contains("<|global_image|>", trained.Processor.ChatText([new NanoVlm.Data.PromptMessage("user", "What is this?")], [trained.Processor.ProcessImage(image)]));
        Assert.Equal(1 + 2 * 2, batch.Images.shape[0]); // 20px resized to 56px: a global tile, then a 2x2 grid of 28px tiles
        _ = trained.Generate("What is this?", [image], new GenerationOptions { Greedy = true, MaxNewTokens = 2 });
    }

    public void Dispose() => dir.Dispose();
}
