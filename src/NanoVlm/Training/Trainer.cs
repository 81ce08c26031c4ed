using System.Diagnostics;
using NanoVlm.Checkpoints;
using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Training;

/// <summary>What the trainer reads: deterministic batches per epoch, validation batches, and an optional accuracy probe.</summary>
public sealed record TrainingData(Func<int, IEnumerable<VlmBatch>> TrainEpoch, int BatchesPerEpoch,
    Func<IEnumerable<VlmBatch>>? Validation = null, Func<VisionLanguageModel, double>? Accuracy = null, BenchmarkProbe? Benchmarks = null);

public sealed record StepReport(int Step, int MaxSteps, int Epoch, double Loss, double Lr, double GradNorm, double TokensPerSecond, double Seconds);

/// <summary>An evaluation: validation loss, accuracy, and the task metrics (<c>task/metric</c>) when the tasks ran at this step.</summary>
public sealed record EvalReport(int Step, double? ValLoss, double? Accuracy, bool IsBest, IReadOnlyDictionary<string, double>? Tasks = null);

/// <summary>
/// The run's end; <see cref="BestMetric"/> is the best-by task metric, else the accuracy, else minus the validation loss, of the step in
/// <see cref="BestFolder"/> (over every session of a resumed run).
/// </summary>
public sealed record TrainingResult(int Steps, string? BestFolder, string LatestFolder, double? BestMetric, bool Interrupted, double Seconds, int? BestStep = null);

/// <summary>
/// nanoVLM's training loop: AdamW with a learning rate each for the projector, the vision encoder and the decoder, warmup + cosine,
/// gradient accumulation and clipping, periodic validation, best-by-metric and resumable checkpoints, metrics.jsonl. In a
/// data-parallel run (<paramref name="sync"/>) every process runs this loop on its own batches; gradients meet after backward.
/// </summary>
public sealed class Trainer(PretrainedVlm vlm, TrainingOptions options, string runDir, TrainingData data, GradientSync? sync = null)
{
    readonly VisionLanguageModel model = vlm.Model;
    readonly LoraAdapter? adapter = vlm.Adapter;
    readonly GradientSync sync = sync ?? GradientSync.Local;

    public event Action<StepReport>? Step;
    public event Action<EvalReport>? Evaluated;
    /// <summary>Skipped steps (non-finite loss or gradient) and other notes for the user.</summary>
    public event Action<string>? Note;

    const int TrimInterval = 50;

    public int MaxSteps { get; } = options.Steps(data.BatchesPerEpoch);

    public string BestFolder => Path.Combine(runDir, "best");

    /// <summary>Whether this process speaks for the run (rank 0 of a job of several, or the only one).</summary>
    public bool IsMain => sync.IsMain;

    /// <summary>The task metric that picks the best checkpoint, when one does (<see cref="BenchmarkProbe.BestBy"/>).</summary>
    public string? BestBy => data.Benchmarks?.BestBy;

    /// <summary>The processes training together.</summary>
    public int WorldSize => sync.WorldSize;

    public TrainingResult Run(bool resume = false, CancellationToken cancel = default)
    {
        options.Validate();
        Directory.CreateDirectory(runDir);
        var groups = ParameterGroups.Build(model, options, adapter);
        using var optimizer = new AdamW(groups.Select(g => g.Group).ToList(), weightDecay: options.WeightDecay,
            shardOver: options.ShardOptimizer ? sync : null);
        var progress = new TrainingProgress(0, 0, 0, null, 0);
        string? lastSaved = null;
        if (resume && TrainingState.LatestFolder(runDir) is { } latest)
        {
            lastSaved = latest;
            if (adapter is null)
                using (var saved = Checkpoint.Load(latest)) ModelCopy.CopyWeights(saved, model);
            else
                using (var saved = AdapterFiles.Load(latest, model)) ModelCopy.CopyWeights(saved, adapter);
            progress = TrainingState.Restore(latest, optimizer);
            Note?.Invoke($"resumed from {latest} at step {progress.Step}");
        }
        var metrics = new MetricsLog(Path.Combine(runDir, "metrics.jsonl"), progress.Step);
        // bf16: a bf16 copy runs forward/backward; its gradients flow into the fp32 master weights that AdamW updates. With an
        // adapter the copy is frozen and the adapter (fp32) is attached to it: its weights are the ones AdamW updates.
        using var compute = options.Bf16 && adapter is null ? new ComputeCopy(model, optimizer, ScalarType.BFloat16) : null;
        using var frozenCopy = options.Bf16 && adapter is not null ? ModelCopy.CloneAs(model, ScalarType.BFloat16) : null;
        using var copyHooks = frozenCopy is null ? null : adapter!.Attach(frozenCopy);
        var worker = compute?.Model ?? frozenCopy ?? model;
        void Save(string folder)
        {
            if (adapter is null) vlm.Save(folder);
            else AdapterFiles.Save(folder, adapter);
        }
        var (step, epoch, batchInEpoch, best, bad, bestStep) = progress;
        var stepper = new OptimizerStep(optimizer, groups, compute, options, sync, Note) { BadSteps = bad };
        // The loss stays on the device until the step's one read, together with the gradient norm.
        using var lossTotal = zeros([], float64, worker.Device);
        var clock = Stopwatch.StartNew();
        // A step folder is written once: re-saving the folder `latest` names (after a skipped step) would delete it first.
        var savedStep = lastSaved is null ? -1 : step;
        var interrupted = false;
        TrainingProgress Progress() => new(step, epoch, batchInEpoch, best, stepper.BadSteps, bestStep);
        // Rank 0 alone writes checkpoints (a sharded optimizer's moments gathered from every process first); the others go on.
        string? SaveCheckpoint()
        {
            optimizer.GatherState();
            var saved = sync.IsMain ? TrainingState.Save(runDir, Save, optimizer, Progress()) : lastSaved;
            sync.Barrier(); // the others wait for the save here, not in the next step's (watched) collectives
            return saved;
        }

        model.train();
        worker.train();
        adapter?.train();
        optimizer.ZeroGrad();
        var (micro, tokens, window) = (0, 0L, Stopwatch.StartNew());
        while (step < MaxSteps && !interrupted)
        {
            foreach (var batch in data.TrainEpoch(epoch).Skip(batchInEpoch))
            {
                tokens += Backward(worker, batch, lossTotal);
                batchInEpoch++;
                compute?.MoveGradients();
                if (++micro < options.GradientAccumulationSteps) continue;

                var outcome = stepper.Take(step, MaxSteps, lossTotal, micro, lastSaved);
                if (outcome.Applied) step++;
                var report = new StepReport(step, MaxSteps, epoch, outcome.Loss, groups[0].Group.Lr, outcome.GradNorm,
                    tokens * sync.WorldSize / Math.Max(window.Elapsed.TotalSeconds, 1e-9), clock.Elapsed.TotalSeconds);
                if (sync.IsMain)
                    metrics.Write(new { step, epoch, train_loss = report.Loss, lr = report.Lr, grad_norm = report.GradNorm, tokens_per_s = report.TokensPerSecond,
                        seconds = report.Seconds, rss_mb = NativeHeap.ResidentMiB(), global_batch = GlobalBatch });
                Step?.Invoke(report);
                (micro, tokens) = (0, 0L);
                window.Restart();

                var last = step >= MaxSteps;
                var validates = step % options.EvalInterval == 0 || last;
                var runsTasks = data.Benchmarks is { } b && (step % b.Every == 0 || last);
                if (step != savedStep && (validates || runsTasks))
                {
                    var (valLoss, accuracy) = validates ? Evaluate(worker) : (null, null);
                    var tasks = runsTasks && sync.IsMain ? RunTasks(worker) : null;
                    var metric = data.Benchmarks?.BestBy is { } by ? tasks?.GetValueOrDefault(by) : accuracy ?? (valLoss is { } v ? -v : null);
                    var isBest = metric is { } m && (best is null || m > best);
                    if (isBest)
                    {
                        (best, bestStep) = (metric, step);
                        CheckpointFolder.Replace(BestFolder, Save);
                    }
                    if (sync.IsMain)
                    {
                        var line = new Dictionary<string, object?>
                        {
                            ["step"] = step, ["epoch"] = epoch, ["val_loss"] = valLoss, ["accuracy"] = accuracy,
                            ["seconds"] = clock.Elapsed.TotalSeconds, ["rss_mb"] = NativeHeap.ResidentMiB(),
                        };
                        foreach (var (name, value) in tasks ?? new Dictionary<string, double>()) line[name] = value;
                        metrics.Write(line);
                        Evaluated?.Invoke(new EvalReport(step, valLoss, accuracy, isBest, tasks));
                    }
                    sync.Barrier(); // rank 0 evaluates alone; the others wait for it here
                }
                // Every process stops at the same step when any of them is asked to.
                interrupted = sync.WorldSize == 1 ? cancel.IsCancellationRequested : sync.Sum(cancel.IsCancellationRequested ? 1 : 0) > 0;
                if (step != savedStep && (last || interrupted || step % options.EvalInterval == 0
                    || (options.CheckpointInterval > 0 && step % options.CheckpointInterval == 0)))
                    (lastSaved, savedStep) = (SaveCheckpoint(), step);
                if (step % TrimInterval == 0) NativeHeap.Release();
                if (last || interrupted) break;
            }
            if (batchInEpoch == 0) throw new NanoVlmException($"epoch {epoch} produced no training batch: every sample was skipped");
            if (step < MaxSteps && !interrupted) (epoch, batchInEpoch) = (epoch + 1, 0);
        }
        if (step != savedStep) lastSaved = SaveCheckpoint(); // every process: the step numbers agree where lastSaved (rank 0's) may not
        adapter?.eval();
        sync.Barrier();
        lastSaved = TrainingState.LatestFolder(runDir) ?? lastSaved ?? throw new InvalidOperationException($"{runDir}: no checkpoint after the run");
        return new TrainingResult(step, Directory.Exists(BestFolder) ? BestFolder : null, lastSaved, best, interrupted, clock.Elapsed.TotalSeconds, bestStep);
    }

    /// <summary>The samples of one optimizer step over every process: batch x processes x accumulation.</summary>
    public long GlobalBatch => (long)options.BatchSize * sync.WorldSize * options.GradientAccumulationSteps;

    /// <summary>
    /// Forward and backward of one micro-batch (its loss scaled for accumulation, added to the step's total); its tokens. With several
    /// processes each weighs its mean loss by its share of the micro-batch's target tokens over all of them, so that the summed
    /// gradients are those of the mean over the whole global micro-batch: N processes of batch b compute what one of batch N x b does.
    /// </summary>
    long Backward(VisionLanguageModel worker, VlmBatch batch, Tensor lossTotal)
    {
        using (batch)
        using (NewDisposeScope())
        {
            var weight = 1.0;
            if (sync.WorldSize > 1)
            {
                var targets = (double)batch.Labels.ne(VlmProcessor.Ignore).sum().item<long>();
                var all = sync.Sum(targets);
                weight = all == 0 ? 0 : targets * sync.WorldSize / all;
                // No target anywhere: the step is skipped on every process, as one process skips a step whose mean loss is NaN.
                if (all == 0) using (no_grad()) lossTotal.add_(double.NaN);
            }
            if (weight > 0)
            {
                var (_, loss) = worker.call(batch.InputIds, batch.Images, batch.AttentionMask, batch.Labels, batch.SequenceIds);
                (loss! * (weight / options.GradientAccumulationSteps)).backward();
                using (no_grad()) lossTotal.add_(loss! * weight);
            }
            return batch.AttentionMask.sum().item<long>();
        }
    }

    /// <summary>The lmms-eval tasks on the model as it is now (rank 0 alone), in eval mode.</summary>
    IReadOnlyDictionary<string, double> RunTasks(VisionLanguageModel worker)
    {
        worker.eval();
        adapter?.eval();
        try { return data.Benchmarks!.Run(worker); }
        finally
        {
            worker.train();
            adapter?.train();
        }
    }

    /// <summary>Validation loss and accuracy, on rank 0 alone (the one that keeps the best checkpoint).</summary>
    (double? ValLoss, double? Accuracy) Evaluate(VisionLanguageModel worker)
    {
        if (!sync.IsMain) return (null, null);
        worker.eval();
        adapter?.eval();
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
            adapter?.train();
        }
    }
}
