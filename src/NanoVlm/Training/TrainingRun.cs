using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Evaluation;
using NanoVlm.Hub;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>
/// A training run assembled from <see cref="TrainArgs"/>: the run folder (with <c>run.json</c>, so <c>Resume</c> rebuilds the same
/// run), the tokenizer (copied or built into the run), the model (from scratch, from backbones or from a checkpoint), the data and the
/// <see cref="Trainer"/>. The folder is locked (<see cref="RunLock"/>) until the run is disposed. <code>
/// using var run = TrainingRun.Start(new TrainArgs { Preset = "tiny", Data = ["fashion-mnist"], Tokenizer = "wordlevel" });
/// var result = run.Trainer.Run(run.Resuming);
/// </code>
/// </summary>
public sealed class TrainingRun : IDisposable
{
    const string RunFile = "run.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, RespectNullableAnnotations = true };

    readonly HubClient _hub;
    readonly RunLock? _lock;
    readonly IReadOnlyList<IVqaDataset> _datasets;

    TrainingRun(TrainArgs args, string runDir, bool resuming, HubClient hub, RunLock? runLock, IReadOnlyList<IVqaDataset> datasets,
        PretrainedVlm vlm, Trainer trainer, int trainSamples, PackingStats? packing)
    {
        (Args, RunDir, Resuming, _hub, _lock, _datasets, Vlm, Trainer, TrainSamples, Packing) =
            (args, runDir, resuming, hub, runLock, datasets, vlm, trainer, trainSamples, packing);
    }

    public TrainArgs Args { get; }
    public string RunDir { get; }
    /// <summary>True when the run continues from its latest checkpoint.</summary>
    public bool Resuming { get; }
    public PretrainedVlm Vlm { get; }
    public Trainer Trainer { get; }
    public int TrainSamples { get; }
    /// <summary>The padding packing saved in the training batches so far; null when samples are not packed.</summary>
    public PackingStats? Packing { get; }

    /// <summary>What was left out of the data, one line per source (empty when nothing was).</summary>
    public IReadOnlyList<string> SkipReport()
    {
        var lines = _datasets.Where(d => d.Skipped.Total > 0).Select(d => $"skipped rows in {d.Name}: {d.Skipped}").ToList();
        if (Vlm.Processor.Skipped.Total > 0) lines.Add($"skipped samples: {Vlm.Processor.Skipped}");
        if (Vlm.Processor.StrayImageTokens > 0) lines.Add($"texts with a stray image token (removed): {Vlm.Processor.StrayImageTokens}");
        return lines;
    }

    /// <summary>
    /// Continues the run in <paramref name="runDir"/> from its latest checkpoint, with the arguments it was started with (thread count
    /// included, so the numbers come out the same); <paramref name="change"/> may alter what does not change them (device, workers).
    /// A folder without a checkpoint is refused: there is nothing to continue.
    /// </summary>
    public static TrainingRun Resume(string runDir, IProgress<DownloadProgress>? progress = null, Action<string>? log = null,
        CancellationToken cancel = default, Func<TrainArgs, TrainArgs>? change = null)
    {
        var file = Path.Combine(runDir, RunFile);
        if (!File.Exists(file)) throw new NanoVlmException($"{runDir}: not a training run folder (no {RunFile})");
        // In a job of several processes rank 0 alone holds the folder (and writes in it).
        var runLock = GradientSync.FromEnvironment().IsMain ? RunLock.Acquire(runDir) : null;
        try
        {
            TrainArgs args;
            try
            {
                args = JsonSerializer.Deserialize<TrainArgs>(RegularFile.ReadAllText(file, RegularFile.MaxConfigBytes, "run file"), Json)
                       ?? throw new JsonException("empty");
                if (args.Data.Any(d => d is null)) throw new JsonException("'Data' holds null");
            }
            catch (JsonException e) { throw new NanoVlmException($"{file}: invalid ({e.Message.Split('\n')[0]})"); }
            if (TrainingState.LatestFolder(runDir) is null)
                throw new NanoVlmException($"{runDir}: no checkpoint to resume from (the run stopped before its first one); start it again instead of resuming it");
            return Start(change?.Invoke(args) ?? args, progress, log, cancel, runDir, runLock);
        }
        catch
        {
            runLock?.Dispose();
            throw;
        }
    }

    /// <summary>Prepares a new run (or, with <paramref name="resumeDir"/>, an existing one); nothing is trained until <see cref="Trainer"/> runs.</summary>
    public static TrainingRun Start(TrainArgs args, IProgress<DownloadProgress>? progress = null, Action<string>? log = null,
        CancellationToken cancel = default, string? resumeDir = null) => Start(args, progress, log, cancel, resumeDir, held: null);

    /// <summary>Assembles the run; <paramref name="held"/> is the folder's lock when the caller took it already (a resume).</summary>
    static TrainingRun Start(TrainArgs args, IProgress<DownloadProgress>? progress, Action<string>? log, CancellationToken cancel,
        string? resumeDir, RunLock? held)
    {
        args.Options.Validate();
        args.Packing?.Validate();
        // The count in effect goes into run.json: a resume on fewer cores must still compute with as many threads.
        args = args with { Threads = args.Threads ?? Environment.ProcessorCount };
        Devices.ConfigureThreads(args.Threads);
        var device = Devices.Parse(args.Device);
        var sources = args.Data.Select(DataSource.Parse).ToList();
        if (sources.Count == 0) throw NanoVlmException.For("Data", "needs at least one data source");
        if (new[] { args.Preset, args.ConfigFile, args.Model }.Count(x => x is not null) > 1)
            throw new NanoVlmException("give only one of a preset, a config file and a checkpoint (Preset, ConfigFile, Model)");
        // A checkpoint named by repo id is fetched (or found in the cache) once, for its config, tokenizer and weights.
        var modelFolder = args.Model is { } model ? PretrainedSources.ResolveModelFolder(model, progress) : null;
        var baseConfig = BaseConfig(args, modelFolder);
        var sync = GradientSync.For(args.Distributed, device);
        args = ForWorld(args, sync.WorldSize, resuming: resumeDir is not null, log: sync.IsMain ? log : null);
        // Several processes name the run by rank 0's clock (the sum of rank 0's time and zeros), so that all of them meet in one folder.
        sync.Barrier();
        var clock = sync.WorldSize > 1
            ? DateTimeOffset.FromUnixTimeSeconds((long)sync.Sum(sync.IsMain ? DateTimeOffset.UtcNow.ToUnixTimeSeconds() : 0)).LocalDateTime
            : DateTime.Now;
        var runName = args.RunName ?? RunName(args, baseConfig, clock);
        var runDir = resumeDir ?? Path.Combine(args.Output, runName);
        // Several processes (mpirun, srun): rank 0 alone holds the folder and writes in it (run.json, the tokenizer, a LoRA base);
        // the others start once it has (Agree), and every process stops when one of them fails before that point.
        var main = sync.IsMain;
        var agreed = sync.WorldSize == 1;
        void Agree(bool ok)
        {
            agreed = true;
            sync.Barrier(); // rank 0 may take long to prepare the run; the others wait here, not in a watched collective
            if (sync.Sum(ok ? 0 : 1) > 0 && ok) throw new NanoVlmException($"another process of the job (rank 0 of {sync.WorldSize}) could not start the run; see its error");
        }
        var created = main && resumeDir is null && !Directory.Exists(runDir);
        RunLock? runLock = null;
        HubClient? hub = null;
        PretrainedVlm? vlm = null;
        try
        {
            runLock = held ?? (main ? RunLock.Acquire(runDir) : null);
            // A folder that holds a run is never started over: its checkpoints and metrics would be lost.
            if (main && resumeDir is null && File.Exists(Path.Combine(runDir, RunFile)))
            {
                created = false;
                throw NanoVlmException.For("RunName", $"'{runName}': {runDir} already holds a run; resume it or choose another run name");
            }
            hub = new HubClient(HubOptions.FromEnvironment(), progress);
            var datasets = sources.Select(s => s.Open(trainSplit: true, hub, cancel, args.MinRatings)).ToList();
            if (!main) Agree(true);
            if (main && resumeDir is null) AtomicFile.WriteAllText(Path.Combine(runDir, RunFile), JsonSerializer.Serialize(args, Json));

            var tokenizer = PrepareTokenizer(args, modelFolder, baseConfig, datasets, Path.Combine(runDir, "tokenizer"), progress, log);
            vlm = PretrainedVlm.Create(BuildModel(args, modelFolder, baseConfig, tokenizer, progress), tokenizer);
            vlm.MoveTo(device);
            if (args.Lora is { } lora) vlm.UseAdapter(NewAdapter(args, lora, vlm, runDir));
            if (main && !agreed) Agree(true);
            var processor = vlm.Processor;

            var splits = datasets.Select(d => DatasetView.Split(d, args.Options.Seed, args.Cutoff, args.Options.ValRatio)).ToList();
            var batch = args.Options.BatchSize;
            var trainCount = splits.Sum(s => s.Train.Count);
            if (trainCount == 0) throw new NanoVlmException("the training data is empty");
            WarnAboutUnknownWords(tokenizer, splits.SelectMany(s => s.Train.ReadInOrder().Take(2000)), log);
            var valCount = splits.Sum(s => s.Val.Count);
            if (args.Options.ValRatio > 0 && valCount == 0)
                log?.Invoke($"the validation split is empty ({args.Options.ValRatio:0.###} of {trainCount:N0} samples rounds to none): no validation loss, and the best checkpoint is chosen by accuracy alone");
            var perStep = (long)batch * args.Options.GradientAccumulationSteps;
            if (perStep > trainCount)
                log?.Invoke($"one optimizer step takes {perStep:N0} samples (batch {batch} x accumulation {args.Options.GradientAccumulationSteps}), more than the {trainCount:N0} training samples: each step sees the data more than once");
            IEnumerable<VqaSample> Global(int epoch) => Mixture.Interleave(
                splits.Zip(sources).Select(x => ((Func<int, IEnumerable<VqaSample>>)(pass =>
                    x.First.Train.ReadShuffled(args.Options.Seed, epoch * 1000 + pass)), x.Second.Weight, x.First.Train.Count)).ToList(),
                Seeds.Combine(args.Options.Seed, epoch));
            var packing = args.Packing;
            // Packed, every process packs the global stream and keeps its rows of each global batch (VqaDataLoader.PackedBatches).
            IEnumerable<VqaSample> Epoch(int epoch) => sync.WorldSize == 1 || packing is not null ? Global(epoch) : RankSlice(Global(epoch), batch, sync.WorldSize, sync.Rank);
            if (sync.WorldSize > 1 && trainCount < batch * sync.WorldSize)
                throw NanoVlmException.For("BatchSize", $"{batch} x {sync.WorldSize} processes needs at least {batch * sync.WorldSize} training samples for one step, got {trainCount}");
            if (packing is not null && vlm.Generation == CheckpointGeneration.V01)
            {
                log?.Invoke("packing is off: a v0.1 model puts its image in front of the text, not inside it");
                packing = null;
            }
            var packingStats = packing is null ? null : new PackingStats();
            // Validation runs on rank 0 alone: its batches are all of the validation samples, not a share.
            IEnumerable<VlmBatch> Batches(IEnumerable<VqaSample> samples, int seed, PackingStats? countIn, bool shared = true) => packing is null
                ? VqaDataLoader.Batches(samples, s => processor.EncodeForTraining(s), b => processor.Collate(b), batch, args.Workers)
                : VqaDataLoader.PackedBatches(samples, s => processor.EncodeForTraining(s),
                    rows => PackedCollation.Collate(rows, tokenizer.PadTokenId, processor.Images.Size), vlm.Config.LmMaxLength, packing, batch,
                    seed, processor.Skipped, countIn ?? new PackingStats(), args.Workers, processes: shared ? sync.WorldSize : 1, rank: shared ? sync.Rank : 0);
            // Data reading is not cancelled by Ctrl+C: the trainer stops at the next step boundary and saves a resumable checkpoint.
            var validation = splits.SelectMany(s => s.Val.ReadInOrder());
            var (evalSamples, score) = EvalSet(args, splits, hub, cancel);
            var data = new TrainingData(
                epoch => Batches(Epoch(epoch), Seeds.Combine(args.Options.Seed, epoch), packingStats),
                // The last, partial batch is kept (as nanoVLM's loader does), so it counts: epochs, steps and the progress bar agree.
                packing is not null ? PackedBatchesPerEpoch(Epoch(0), vlm, trainCount, batch * sync.WorldSize, packing)
                : sync.WorldSize > 1 ? Math.Max(1, trainCount / (batch * sync.WorldSize)) : (trainCount + batch - 1) / batch,
                splits.Sum(s => s.Val.Count) > 0 ? () => Batches(validation, args.Options.Seed, null, shared: false) : null,
                evalSamples is null ? null : m => Evaluator.Run(m, processor, evalSamples(), score, batch).Accuracy,
                Benchmarks(args, processor, hub, main, cancel));
            var trainer = new Trainer(vlm, args.Options, runDir, data, sync);
            return new TrainingRun(args, runDir, resumeDir is not null, hub, runLock, datasets, vlm, trainer, trainCount, packingStats);
        }
        catch
        {
            if (!agreed) Agree(false);
            vlm?.Dispose();
            hub?.Dispose();
            runLock?.Dispose();
            // A run that never started leaves nothing behind (no folder of lock files).
            if (created && Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
            throw;
        }
    }

    /// <summary>Pushes a checkpoint of this run (the best one, or the latest) to the Hub repo of <c>--push-to-hub</c>.</summary>
    public string Push(string checkpointFolder, CancellationToken cancel = default) =>
        _hub.PushToHubAsync(new CheckpointLayout(checkpointFolder).Files(), Args.PushToHub ?? throw new InvalidOperationException("no PushToHub repo"),
            Args.Private, ct: cancel).GetAwaiter().GetResult();

    public void Dispose()
    {
        Vlm.Dispose();
        _hub.Dispose();
        _lock?.Dispose();
    }

    /// <summary>
    /// This process's share of the global sample order: of every <paramref name="processes"/> x <paramref name="batch"/> samples (one
    /// global micro-batch, the same whatever the number of processes) rank r takes the r-th <paramref name="batch"/>; an incomplete last
    /// global micro-batch is dropped, so every process runs the same number of micro-batches.
    /// </summary>
    internal static IEnumerable<VqaSample> RankSlice(IEnumerable<VqaSample> samples, int batch, int processes, int rank) =>
        samples.Chunk(batch * processes).Where(chunk => chunk.Length == batch * processes).SelectMany(chunk => chunk.Skip(rank * batch).Take(batch));

    /// <summary>
    /// A fresh adapter for the run's model. Its base must load again as it is (for resume, generate and merge): the checkpoint or repo
    /// the run fine-tunes when it is used as it is, else (built from scratch or backbones, another tokenizer, a grown vocabulary) the
    /// model as built with the run's tokenizer, saved once into the run's <c>base/</c> folder (and read back from there on resume).
    /// </summary>
    static LoraAdapter NewAdapter(TrainArgs args, LoraConfig lora, PretrainedVlm vlm, string runDir)
    {
        string baseModel;
        var asLoaded = args.Model is { } m && args.Tokenizer is null
                       && new CheckpointLayout(PretrainedSources.ResolveModelFolder(m)).ReadConfig().LmVocabSize == vlm.Config.LmVocabSize;
        if (asLoaded) baseModel = Directory.Exists(args.Model!) ? Path.GetFullPath(args.Model!) : args.Model!;
        else
        {
            baseModel = Path.GetFullPath(Path.Combine(runDir, "base"));
            if (File.Exists(Path.Combine(baseModel, CheckpointLayout.ConfigFile)))
                using (var saved = Checkpoint.Load(baseModel)) ModelCopy.CopyWeights(saved, vlm.Model);
            else CheckpointFolder.Replace(baseModel, vlm.Save);
        }
        return new LoraAdapter(vlm.Model, lora with { BaseModel = baseModel });
    }

    /// <summary>
    /// Answers the tokenizer can only write as its unknown token cannot be learnt (the loss still falls, on <c>[UNK]</c>): said loudly,
    /// with examples, when more than 1% of the answer tokens are.
    /// </summary>
    static void WarnAboutUnknownWords(Tokenizer tokenizer, IEnumerable<VqaSample> samples, Action<string>? log)
    {
        var unknown = UnknownWords.In(tokenizer, samples.SelectMany(s => s.Turns.Select(t => t.Assistant)));
        if (unknown.Share <= 0.01) return;
        log?.Invoke($"warning: {unknown.Share:P1} of the answer tokens are unknown to the tokenizer ({string.Join(", ", unknown.Examples.Select(w => $"'{w}'"))}): " +
                    "the model cannot learn to say them. A word-level vocabulary grows with the data when the run fine-tunes a checkpoint with " +
                    "Tokenizer = \"wordlevel\"; another tokenizer needs those words");
    }

    static VlmConfig BaseConfig(TrainArgs args, string? modelFolder)
    {
        if (args.ConfigFile is { } file) return VlmConfig.Load(file);
        if (modelFolder is not null) return new CheckpointLayout(modelFolder).ReadConfig();
        return Presets.Get(args.Preset ?? "tiny");
    }

    /// <summary>The run's tokenizer, copied (or built) into <paramref name="folder"/> so every checkpoint can ship it.</summary>
    static Tokenizer PrepareTokenizer(TrainArgs args, string? modelFolder, VlmConfig cfg, IReadOnlyList<IVqaDataset> datasets, string folder,
        IProgress<DownloadProgress>? progress, Action<string>? log)
    {
        var ownTokenizer = modelFolder is not null && new CheckpointLayout(modelFolder).HasTokenizer;
        var source = args.Tokenizer ?? (ownTokenizer ? modelFolder! : cfg.LmTokenizer);
        // "wordlevel" on a checkpoint with its own tokenizer extends that vocabulary: a new one would renumber the words it knows.
        return PretrainedSources.PrepareTokenizer(source, cfg, () => datasets.SelectMany(d => DatasetView.All(d).ReadInOrder()), folder, progress, log,
            extending: ownTokenizer && source == Presets.WordLevelTokenizer ? modelFolder : null);
    }

    static VisionLanguageModel BuildModel(TrainArgs args, string? modelFolder, VlmConfig cfg, Tokenizer tokenizer, IProgress<DownloadProgress>? progress)
    {
        cfg.EnsureFitsInMemory(args.Model ?? args.ConfigFile ?? $"the {args.Preset ?? "tiny"} preset", training: true);
        if (modelFolder is not null)
        {
            var loaded = Checkpoint.Load(modelFolder);
            if (tokenizer.VocabSize <= loaded.Config.LmVocabSize) return loaded;
            using (loaded) return loaded.WithVocabulary(tokenizer.VocabSize);
        }
        manual_seed(args.Options.Seed);
        if (cfg.VlmLoadBackboneWeights) return PretrainedSources.FromBackbones(cfg, progress);
        // From scratch: the vocabulary is the tokenizer's (extra tokens included).
        var extra = tokenizer.ExtraTokenIds.Count;
        return new VisionLanguageModel(cfg with
        {
            LmBaseVocabSize = tokenizer.VocabSize - extra, ExtraTokenAmount = extra, LmVocabSize = tokenizer.VocabSize,
        });
    }

    /// <summary>
    /// Packed batches in an epoch, estimated from the first samples (their mean length and the share that is kept): the exact count
    /// is only known once the epoch has been packed, and the learning-rate schedule needs the steps up front.
    /// </summary>
    static int PackedBatchesPerEpoch(IEnumerable<VqaSample> epoch, PretrainedVlm vlm, int trainCount, int batch, PackingOptions packing)
    {
        const int probeSamples = 128;
        var probe = new VlmProcessor(vlm.Config, vlm.Tokenizer); // its own skip counts: these samples are encoded again in training
        var lengths = new List<int>();
        foreach (var sample in epoch.Take(probeSamples))
        {
            if (probe.EncodeForTraining(sample) is not { } encoded) continue;
            lengths.Add(encoded.InputIds.Length);
            foreach (var image in encoded.Images) image.Dispose();
        }
        var kept = lengths.Where(n => n < packing.MaxSampleLength && n <= vlm.Config.LmMaxLength).ToList();
        if (kept.Count == 0) return 1;
        var rows = SamplePacker.EstimateRows((long)trainCount * kept.Count / lengths.Count, kept.Average(), vlm.Config.LmMaxLength, batch);
        return (int)Math.Max(1, (rows + batch - 1) / batch);
    }

    /// <summary>The accuracy probe: --eval-data (MMStar scored by letter, others by exact match) or the validation split.</summary>
    static (Func<IEnumerable<VqaSample>>? Samples, Func<string, string, bool> Score) EvalSet(TrainArgs args,
        IReadOnlyList<(DatasetView Train, DatasetView Val)> splits, HubClient hub, CancellationToken cancel)
    {
        if (args.EvalSamples <= 0) return (null, Scoring.ExactMatch);
        if (args.EvalData is { } spec)
        {
            var source = DataSource.Parse(spec);
            var dataset = source.Open(trainSplit: false, hub, cancel, args.MinRatings);
            var view = DatasetView.All(dataset);
            return (() => view.ReadInOrder().Take(args.EvalSamples), dataset is MmStarDataset ? Scoring.MultipleChoice : Scoring.ExactMatch);
        }
        if (splits.Sum(s => s.Val.Count) == 0) return (null, Scoring.ExactMatch);
        return (() => splits.SelectMany(s => s.Val.ReadInOrder()).Take(args.EvalSamples), Scoring.ExactMatch);
    }

    /// <summary>
    /// A new run records its number of processes; a resumed one with another number keeps the global micro-batch (batch x processes)
    /// by changing the batch per process, which must then divide it.
    /// </summary>
    internal static TrainArgs ForWorld(TrainArgs args, int world, bool resuming, Action<string>? log)
    {
        if (!resuming || args.Processes == world) return args with { Processes = world };
        var global = (long)args.Options.BatchSize * args.Processes;
        if (global % world != 0)
            throw NanoVlmException.For("BatchSize", $"the run's global micro-batch of {global} ({args.Options.BatchSize} x {args.Processes} processes) does not split over {world} processes; resume it with a number of processes that divides {global}");
        log?.Invoke($"resuming a run of {args.Processes} process(es) with {world}: batch {global / world} per process keeps its global micro-batch of {global}");
        return args with { Processes = world, Options = args.Options with { BatchSize = (int)(global / world) } };
    }

    /// <summary>The tasks of <c>EvalTasks</c>, opened (downloaded, checked) before the first step; on rank 0 only, which runs them.</summary>
    static BenchmarkProbe? Benchmarks(TrainArgs args, VlmProcessor processor, HubClient hub, bool main, CancellationToken cancel)
    {
        if (args.EvalTasks is null)
            return args.BestBy is null ? null : throw NanoVlmException.For("BestBy", $"'{args.BestBy}' names a task metric, but no EvalTasks are run");
        var tasks = BenchmarkTasks.Parse(args.EvalTasks);
        var datasets = main ? BenchmarkSuite.Open(tasks, BenchmarkSuite.Assignments(args.EvalDatasets, "EvalDataset"), hub, cancel) : [];
        return new BenchmarkProbe(tasks, datasets, processor, args.EvalEvery ?? args.Options.EvalInterval, args.EvalLimit, args.Options.BatchSize, args.BestBy);
    }

    /// <summary>nanoVLM's run name: nanoVLM_{vit}_mp{f}_{lm}_{devices}_{data}_bs{batch}_ep{epochs}_lr_vision_{v}-language_{l}-{mp}_{MMdd-HHmmss}.</summary>
    static string RunName(TrainArgs args, VlmConfig cfg, DateTime clock)
    {
        var o = args.Options;
        var data = args.Cutoff is { } c ? $"{c}samples" : "full_ds";
        return $"nanoVLM_{cfg.VitModelType.Split('/')[^1]}_mp{cfg.MpPixelShuffleFactor}_{cfg.LmModelType.Split('/')[^1]}_1x{(args.Device == "cuda" ? "GPU" : "CPU")}_{data}_bs{o.BatchSize * o.GradientAccumulationSteps}_ep{o.Epochs}_lr_vision_{o.LrVision}-language_{o.LrLanguage}-{o.LrMp}_{clock:MMdd-HHmmss}";
    }
}
