using System.Diagnostics;
using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>What the trainer reads: deterministic batches per epoch, validation batches, and an optional accuracy probe.</summary>
public sealed record TrainingData(Func<int, IEnumerable<VlmBatch>> TrainEpoch, int BatchesPerEpoch,
    Func<IEnumerable<VlmBatch>>? Validation = null, Func<VisionLanguageModel, double>? Accuracy = null);

public sealed record StepReport(int Step, int MaxSteps, int Epoch, double Loss, double Lr, double GradNorm, double TokensPerSecond, double Seconds);

public sealed record EvalReport(int Step, double? ValLoss, double? Accuracy, bool IsBest);

public sealed record TrainingResult(int Steps, string? BestFolder, string LatestFolder, double? BestMetric, bool Interrupted, double Seconds);

/// <summary>
/// nanoVLM's training loop: AdamW with a learning rate each for the projector, the vision encoder and the decoder, warmup + cosine,
/// gradient accumulation and clipping, periodic validation, best-by-metric and resumable checkpoints, metrics.jsonl.
/// </summary>
public sealed class Trainer(PretrainedVlm vlm, TrainingOptions options, string runDir, TrainingData data)
{
    readonly VisionLanguageModel model = vlm.Model;

    public event Action<StepReport>? Step;
    public event Action<EvalReport>? Evaluated;
    /// <summary>Skipped steps (non-finite loss or gradient) and other notes for the user.</summary>
    public event Action<string>? Note;

    const int TrimInterval = 50;

    public int MaxSteps { get; } = options.Steps(data.BatchesPerEpoch);

    public string BestFolder => Path.Combine(runDir, "best");

    public TrainingResult Run(bool resume = false, CancellationToken cancel = default)
    {
        options.Validate();
        Directory.CreateDirectory(runDir);
        var groups = ParameterGroups();
        using var optimizer = new AdamW(groups.Select(g => g.Group).ToList(), weightDecay: options.WeightDecay);
        var progress = new TrainingProgress(0, 0, 0, null, 0);
        string? lastSaved = null;
        if (resume && TrainingState.LatestFolder(runDir) is { } latest)
        {
            lastSaved = latest;
            using (var saved = Checkpoint.Load(latest)) CopyWeights(saved, model);
            progress = TrainingState.Restore(latest, optimizer);
            Note?.Invoke($"resumed from {latest} at step {progress.Step}");
        }
        var metrics = new MetricsLog(Path.Combine(runDir, "metrics.jsonl"), progress.Step);
        // bf16: a bf16 copy runs forward/backward; its gradients flow into the fp32 master weights that AdamW updates.
        using var compute = options.Bf16 ? new ComputeCopy(model, optimizer, ScalarType.BFloat16) : null;
        var worker = compute?.Model ?? model;
        // The loss stays on the device until the step's one read, together with the gradient norm.
        using var lossTotal = zeros([], float64, worker.Device);
        var clock = Stopwatch.StartNew();
        var (step, epoch, batchInEpoch, best, bad) = progress;
        // A step folder is written once: re-saving the folder `latest` names (after a skipped step) would delete it first.
        var savedStep = lastSaved is null ? -1 : step;
        var interrupted = false;

        model.train();
        worker.train();
        optimizer.ZeroGrad();
        var (micro, tokens, window) = (0, 0L, Stopwatch.StartNew());
        while (step < MaxSteps && !interrupted)
        {
            foreach (var batch in data.TrainEpoch(epoch).Skip(batchInEpoch))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var (_, loss) = worker.call(batch.InputIds, batch.Images, batch.AttentionMask, batch.Labels, batch.SequenceIds);
                    (loss! / options.GradientAccumulationSteps).backward();
                    using (no_grad()) lossTotal.add_(loss!);
                    tokens += batch.AttentionMask.sum().item<long>();
                }
                batchInEpoch++;
                compute?.MoveGradients();
                if (++micro < options.GradientAccumulationSteps) continue;

                double meanLoss, gradNorm;
                using (NewDisposeScope()) // frees the temporaries of clipping and AdamW every step
                {
                    using var read = stack([lossTotal / micro, optimizer.ClipGradNorm(options.MaxGradNorm).to(float64)]).cpu();
                    (meanLoss, gradNorm) = (read[0].item<double>(), read[1].item<double>());
                    lossTotal.zero_();
                    if (!double.IsFinite(meanLoss) || !double.IsFinite(gradNorm))
                    {
                        bad++;
                        Note?.Invoke($"step {step}: loss {meanLoss} / grad norm {gradNorm} is not finite, step skipped ({bad}/{options.MaxBadSteps})");
                        if (bad >= options.MaxBadSteps)
                            throw new NanoVlmException($"training stopped after {bad} non-finite steps; last good checkpoint: {lastSaved ?? "none"}");
                    }
                    else
                    {
                        foreach (var (group, peak) in groups) group.Lr = LrSchedule.At(step, peak, MaxSteps);
                        optimizer.Step();
                        compute?.RefreshWeights();
                        step++;
                    }
                    optimizer.ZeroGrad();
                }
                var seconds = window.Elapsed.TotalSeconds;
                var report = new StepReport(step, MaxSteps, epoch, meanLoss, groups[0].Group.Lr, gradNorm, tokens / Math.Max(seconds, 1e-9),
                    clock.Elapsed.TotalSeconds);
                metrics.Write(new { step, epoch, train_loss = meanLoss, lr = report.Lr, grad_norm = gradNorm, tokens_per_s = report.TokensPerSecond, seconds = report.Seconds, rss_mb = RssMb() });
                Step?.Invoke(report);
                (micro, tokens) = (0, 0L);
                window.Restart();

                var last = step >= MaxSteps;
                if (step != savedStep && (step % options.EvalInterval == 0 || last))
                {
                    var (valLoss, accuracy) = Evaluate(worker);
                    var metric = accuracy ?? (valLoss is { } v ? -v : null);
                    var isBest = metric is { } m && (best is null || m > best);
                    if (isBest)
                    {
                        best = metric;
                        SaveBest();
                    }
                    metrics.Write(new { step, epoch, val_loss = valLoss, accuracy, seconds = clock.Elapsed.TotalSeconds, rss_mb = RssMb() });
                    Evaluated?.Invoke(new EvalReport(step, valLoss, accuracy, isBest));
                }
                interrupted = cancel.IsCancellationRequested;
                if (step != savedStep && (last || interrupted || step % options.EvalInterval == 0
                    || (options.CheckpointInterval > 0 && step % options.CheckpointInterval == 0)))
                    (lastSaved, savedStep) = (TrainingState.Save(runDir, vlm, optimizer, new TrainingProgress(step, epoch, batchInEpoch, best, bad)), step);
                if (step % TrimInterval == 0) ReleaseMemory();
                if (last || interrupted) break;
            }
            if (batchInEpoch == 0) throw new NanoVlmException($"epoch {epoch} produced no training batch: every sample was skipped");
            if (step < MaxSteps && !interrupted) (epoch, batchInEpoch) = (epoch + 1, 0);
        }
        if (step != savedStep || lastSaved is null)
            lastSaved = TrainingState.Save(runDir, vlm, optimizer, new TrainingProgress(step, epoch, batchInEpoch, best, bad));
        return new TrainingResult(step, Directory.Exists(BestFolder) ? BestFolder : null, lastSaved, best, interrupted, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Collects finalizable tensor handles and hands freed native memory back, every <see cref="TrimInterval"/> steps (a few
    /// milliseconds), so resident memory stays flat over long runs instead of following allocator high-water marks.
    /// </summary>
    static void ReleaseMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        NativeHeap.Trim();
    }

    /// <summary>Resident memory of the process (native tensors included), to show that a long run stays flat.</summary>
    static long RssMb()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.WorkingSet64 >> 20;
    }

    /// <summary>
    /// nanoVLM's groups with their peak learning rates: the projector, the vision encoder and the decoder. A part at rate 0 (or
    /// frozen) is left out and its parameters stop requiring gradients.
    /// </summary>
    List<(ParamGroup Group, double PeakLr)> ParameterGroups()
    {
        var all = model.UniqueNamedParameters();
        var parts = new (string Name, string Prefix, double Lr)[]
        {
            ("mp", "MP.", options.LrMp),
            ("vision", "vision_encoder.", options.FreezeVision ? 0 : options.LrVision),
            ("language", "decoder.", options.FreezeDecoder ? 0 : options.LrLanguage),
        };
        var groups = new List<(ParamGroup, double)>();
        foreach (var (name, prefix, lr) in parts)
        {
            var members = all.Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            foreach (var (_, p) in members) p.requires_grad = lr > 0;
            if (lr > 0) groups.Add((new ParamGroup(name, members), lr));
        }
        return groups;
    }

    (double? ValLoss, double? Accuracy) Evaluate(VisionLanguageModel worker)
    {
        worker.eval();
        try
        {
            double? valLoss = null;
            if (data.Validation is not null)
            {
                using var _ = no_grad();
                var (sum, n) = (0.0, 0);
                foreach (var batch in data.Validation())
                    using (batch)
                    using (NewDisposeScope())
                    {
                        sum += worker.call(batch.InputIds, batch.Images, batch.AttentionMask, batch.Labels, batch.SequenceIds).Loss!.item<float>();
                        n++;
                    }
                if (n > 0) valLoss = sum / n;
            }
            return (valLoss, data.Accuracy?.Invoke(worker));
        }
        finally
        {
            worker.train();
        }
    }

    void SaveBest()
    {
        var tmp = BestFolder + $".tmp-{Environment.ProcessId}";
        var old = BestFolder + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        vlm.Save(tmp);
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(BestFolder)) Directory.Move(BestFolder, old);
        Directory.Move(tmp, BestFolder);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    internal static VisionLanguageModel CloneAs(VisionLanguageModel source, ScalarType dtype)
    {
        var copy = new VisionLanguageModel(source.Config, initWeights: false) { ImageTokenId = source.ImageTokenId, EosTokenId = source.EosTokenId };
        copy.to(dtype);
        copy.to(source.Device);
        CopyWeights(source, copy);
        var trainable = source.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
        foreach (var (name, p) in copy.named_parameters()) p.requires_grad = trainable[name];
        return copy;
    }

    internal static void CopyWeights(VisionLanguageModel from, VisionLanguageModel to)
    {
        using var _ = no_grad();
        var source = from.state_dict();
        foreach (var (name, t) in to.state_dict()) t.copy_(source[name]);
    }

    /// <summary>Appends one JSON object per line; on resume, lines past the resumed step are dropped.</summary>
    sealed class MetricsLog
    {
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

        static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

        public void Write(object record) => File.AppendAllText(path, JsonSerializer.Serialize(record, Json) + '\n');
    }
}
