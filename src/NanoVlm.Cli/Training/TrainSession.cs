using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Hub;
using NanoVlm.IO;
using NanoVlm.Models;
using NanoVlm.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Cli.Training;

/// <summary>
/// Builds a training run from <see cref="TrainArgs"/> (model, tokenizer, data, run folder), runs the <see cref="Trainer"/> with a
/// live progress view, a loss plot and a summary table.
/// </summary>
public static class TrainSession
{
    const string RunFile = "run.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public sealed record Outcome(string RunDir, string ModelFolder, TrainingResult Result, Tokenizer Tokenizer);

    /// <summary>Continues the run in <paramref name="runDir"/> with the arguments it was started with.</summary>
    public static Outcome Resume(string runDir, CancellationToken cancel)
    {
        var file = Path.Combine(runDir, RunFile);
        if (!File.Exists(file)) throw new NanoVlmException($"{runDir}: not a training run folder (no {RunFile})");
        TrainArgs args;
        try { args = JsonSerializer.Deserialize<TrainArgs>(File.ReadAllText(file), Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new NanoVlmException($"{file}: invalid ({e.Message.Split('\n')[0]})"); }
        return Run(args, cancel, runDir);
    }

    public static Outcome Run(TrainArgs args, CancellationToken cancel, string? resumeDir = null)
    {
        args.Options.Validate();
        Devices.ConfigureThreads(args.Threads);
        var device = Devices.Parse(args.Device);
        var sources = args.Data.Select(DataSource.Parse).ToList();
        if (sources.Count == 0) throw new NanoVlmException("--data: at least one data source is needed");
        var baseConfig = BaseConfig(args);
        var progress = new ConsoleDownloadProgress();
        using var hub = new HubClient(HubOptions.FromEnvironment(), progress);
        var datasets = sources.Select(s => s.Open(trainSplit: true, hub, cancel)).ToList();

        var runDir = resumeDir ?? Path.Combine(args.Output, args.RunName ?? RunName(args, baseConfig));
        Directory.CreateDirectory(runDir);
        if (resumeDir is null) AtomicFile.WriteAllText(Path.Combine(runDir, RunFile), JsonSerializer.Serialize(args, Json));

        var tokenizer = PrepareTokenizer(args, baseConfig, datasets, Path.Combine(runDir, "tokenizer"), progress);
        var model = BuildModel(args, baseConfig, tokenizer, progress);
        model.to(device);
        Pretrained.Bind(model, tokenizer);
        var cfg = model.Config;

        var splits = datasets.Select(d => DatasetView.Split(d, args.Options.Seed, args.Cutoff, args.Options.ValRatio)).ToList();
        var collator = new VqaCollator(tokenizer, cfg, new ImageProcessor(cfg.VitImgSize));
        var batch = args.Options.BatchSize;
        var trainCount = splits.Sum(s => s.Train.Count);
        if (trainCount == 0) throw new NanoVlmException("the training data is empty");
        IEnumerable<VqaSample> Epoch(int epoch) => Mixture.Interleave(
            splits.Zip(sources).Select(x => ((Func<int, IEnumerable<VqaSample>>)(pass =>
                x.First.Train.ReadShuffled(args.Options.Seed, epoch * 1000 + pass)), x.Second.Weight, x.First.Train.Count)).ToList(),
            Seeds.Combine(args.Options.Seed, epoch));
        // Data reading is not cancelled by Ctrl+C: the trainer stops at the next step boundary and saves a resumable checkpoint.
        var validation = splits.SelectMany(s => s.Val.ReadInOrder());
        var (evalSamples, score) = EvalSet(args, splits, hub, cancel);

        var data = new TrainingData(
            epoch => VqaDataLoader.Batches(Epoch(epoch), collator.EncodeForTraining, b => collator.Collate(b), batch, args.Workers),
            Math.Max(1, trainCount / batch),
            splits.Sum(s => s.Val.Count) > 0
                ? () => VqaDataLoader.Batches(validation, collator.EncodeForTraining, b => collator.Collate(b), batch, args.Workers)
                : null,
            evalSamples is null ? null : m => Evaluator.Run(m, collator, evalSamples(), score, batch).Accuracy);
        var trainer = new Trainer(model, args.Options, runDir, data) { ExtraFiles = Directory.GetFiles(Path.Combine(runDir, "tokenizer")) };

        AnsiConsole.MarkupLineInterpolated($"[bold]run[/] {runDir}");
        AnsiConsole.MarkupLineInterpolated(
            $"model {cfg.VitModelType} + {cfg.LmModelType}: {model.ParameterCounts().Total:N0} parameters on {device.type}; {trainCount:N0} training samples, {trainer.MaxSteps:N0} optimizer steps of {batch} x {args.Options.GradientAccumulationSteps}");
        var result = TrainProgressView.Run(trainer, runDir, resumeDir is not null, cancel);
        foreach (var d in datasets.Where(d => d.Skipped.Total > 0)) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped rows in {d.Name}: {d.Skipped}[/]");
        if (collator.Skipped.Total > 0) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped samples: {collator.Skipped}[/]");

        var modelFolder = result.BestFolder ?? result.LatestFolder;
        if (args.PushToHub is { } repo && !result.Interrupted)
            AnsiConsole.MarkupLineInterpolated($"pushed {modelFolder} to {hub.PushToHubAsync(modelFolder, repo, args.Private, ct: cancel).GetAwaiter().GetResult()}");
        model.Dispose();
        return new Outcome(runDir, modelFolder, result, tokenizer);
    }

    static VlmConfig BaseConfig(TrainArgs args)
    {
        var choices = new[] { args.Preset, args.ConfigFile, args.Model }.Count(x => x is not null);
        if (choices > 1) throw new NanoVlmException("give one of --preset, --config and --model");
        if (args.ConfigFile is { } file) return VlmConfig.Load(file);
        if (args.Model is { } model) return VlmConfig.Load(Path.Combine(Pretrained.ResolveModelFolder(model), Checkpoint.ConfigFile));
        return Presets.Get(args.Preset ?? "tiny");
    }

    /// <summary>The run's tokenizer, copied (or built) into <paramref name="folder"/> so every checkpoint can ship it.</summary>
    static Tokenizer PrepareTokenizer(TrainArgs args, VlmConfig cfg, IReadOnlyList<IVqaDataset> datasets, string folder, IProgress<DownloadProgress> progress)
    {
        if (!File.Exists(Path.Combine(folder, "tokenizer.json")))
        {
            var source = args.Tokenizer ?? (args.Model is { } m && File.Exists(Path.Combine(Pretrained.ResolveModelFolder(m), "tokenizer.json"))
                ? Pretrained.ResolveModelFolder(m)
                : cfg.LmTokenizer);
            if (source == Presets.WordLevelTokenizer)
            {
                AnsiConsole.MarkupLine("building a word-level tokenizer from the training texts");
                WordLevelTokenizerBuilder.Write(folder, datasets.SelectMany(d => DatasetView.All(d).ReadInOrder()));
            }
            else
            {
                var resolved = Pretrained.ResolveTokenizer(source, progress);
                var sourceFolder = File.Exists(resolved) ? Path.GetDirectoryName(Path.GetFullPath(resolved))! : resolved;
                Directory.CreateDirectory(folder);
                foreach (var name in Pretrained.TokenizerFiles)
                    if (File.Exists(Path.Combine(sourceFolder, name))) File.Copy(Path.Combine(sourceFolder, name), Path.Combine(folder, name), true);
            }
        }
        return Tokenizer.Load(folder, cfg.VlmExtraTokens);
    }

    static VisionLanguageModel BuildModel(TrainArgs args, VlmConfig cfg, Tokenizer tokenizer, IProgress<DownloadProgress> progress)
    {
        if (args.Model is { } checkpoint) return Checkpoint.Load(Pretrained.ResolveModelFolder(checkpoint, progress));
        manual_seed(args.Options.Seed);
        if (cfg.VlmLoadBackboneWeights) return Pretrained.FromBackbones(cfg, progress);
        // From scratch: the vocabulary is the tokenizer's (extra tokens included).
        var extra = tokenizer.ExtraTokenIds.Count;
        return new VisionLanguageModel(cfg with
        {
            LmBaseVocabSize = tokenizer.VocabSize - extra, ExtraTokenAmount = extra, LmVocabSize = tokenizer.VocabSize,
            LmEosTokenId = tokenizer.EosTokenId,
        });
    }

    /// <summary>The accuracy probe: --eval-data (MMStar scored by letter, others by exact match) or the validation split.</summary>
    static (Func<IEnumerable<VqaSample>>? Samples, Func<string, string, bool> Score) EvalSet(TrainArgs args,
        IReadOnlyList<(DatasetView Train, DatasetView Val)> splits, HubClient hub, CancellationToken cancel)
    {
        if (args.EvalSamples <= 0) return (null, Scoring.ExactMatch);
        if (args.EvalData is { } spec)
        {
            var source = DataSource.Parse(spec);
            var dataset = source.Open(trainSplit: false, hub, cancel);
            var view = DatasetView.All(dataset);
            return (() => view.ReadInOrder().Take(args.EvalSamples), dataset is MmStarDataset ? Scoring.MultipleChoice : Scoring.ExactMatch);
        }
        if (splits.Sum(s => s.Val.Count) == 0) return (null, Scoring.ExactMatch);
        return (() => splits.SelectMany(s => s.Val.ReadInOrder()).Take(args.EvalSamples), Scoring.ExactMatch);
    }

    /// <summary>nanoVLM's run name: nanoVLM_{vit}_mp{f}_{lm}_{devices}_{data}_bs{batch}_ep{epochs}_lr_vision_{v}-language_{l}-{mp}_{MMdd-HHmmss}.</summary>
    static string RunName(TrainArgs args, VlmConfig cfg)
    {
        var o = args.Options;
        var data = args.Cutoff is { } c ? $"{c}samples" : "full_ds";
        return $"nanoVLM_{cfg.VitModelType.Split('/')[^1]}_mp{cfg.MpPixelShuffleFactor}_{cfg.LmModelType.Split('/')[^1]}_1x{(args.Device == "cuda" ? "GPU" : "CPU")}_{data}_bs{o.BatchSize * o.GradientAccumulationSteps}_ep{o.Epochs}_lr_vision_{o.LrVision}-language_{o.LrLanguage}-{o.LrMp}_{DateTime.Now:MMdd-HHmmss}";
    }
}
