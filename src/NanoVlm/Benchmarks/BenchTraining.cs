using NanoVlm.Models;
using NanoVlm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Benchmarks;

/// <summary>
/// The trainable state of a benchmark step, as the trainer sets it up: every weight (fp32, or bf16 compute with fp32 master
/// weights), or a LoRA adapter (rank <c>r</c> &gt; 0, alpha 2r, on the decoder's linears) over the frozen model (in bf16, over its
/// frozen bf16 copy).
/// </summary>
internal sealed class BenchTraining : IDisposable
{
    readonly VisionLanguageModel model;
    readonly VisionLanguageModel worker;
    readonly AdamW optimizer;
    readonly ComputeCopy? compute;
    readonly VisionLanguageModel? frozenCopy;
    readonly LoraAdapter? adapter;

    public BenchTraining(VisionLanguageModel model, ScalarType dtype, int loraRank, GradientSync? shardOver = null)
    {
        this.model = model;
        if (loraRank > 0)
        {
            foreach (var p in model.parameters()) p.requires_grad = false;
            adapter = new LoraAdapter(model, new LoraConfig { Rank = loraRank, Alpha = 2 * loraRank });
            optimizer = new AdamW([new ParamGroup("lora", adapter.PeftTensors().Select(t => (t.Name, t.Weight)).ToList()) { Lr = 1e-4 }]);
            frozenCopy = dtype == ScalarType.Float32 ? null : ModelCopy.CloneAs(model, dtype);
            worker = frozenCopy ?? model;
            adapter.Attach(worker);
            adapter.train();
        }
        else
        {
            optimizer = new AdamW([new ParamGroup("all", model.UniqueNamedParameters()) { Lr = 1e-4 }], shardOver: shardOver);
            compute = dtype == ScalarType.Float32 ? null : new ComputeCopy(model, optimizer, dtype);
            worker = compute?.Model ?? model;
        }
    }

    public string Name => adapter is null ? "full" : $"lora r{adapter.Config.Rank}";

    public long TrainableParameters => optimizer.Buffers.Sum(b => b.Length);

    /// <summary>The gradient bytes one step combines across processes (every trainable value in fp32).</summary>
    public long GradientBytes => optimizer.Buffers.Sum(b => b.Grad.numel()) * 4;

    /// <summary>The AdamW moments this process holds (1/N of them when sharded), in bytes.</summary>
    public long OptimizerStateBytes => optimizer.StateBytes;

    /// <summary>
    /// One data-parallel step, timed in parts: forward and backward, combining the gradients over the processes, clipping and AdamW
    /// (with a sharded optimizer's all-gather). The gradients are combined after backward: TorchSharp has no hook to start earlier.
    /// </summary>
    public (double Compute, double Communication, double Optimizer) DistributedStep(SyntheticBatch data, GradientSync sync, Device device)
    {
        model.train();
        worker.train();
        using var scope = NewDisposeScope();
        var forwardBackward = Timing.Seconds(device, () =>
        {
            var (_, loss) = worker.call(data.InputIds, data.Images, data.AttentionMask, data.Targets, null);
            loss!.backward();
            compute?.MoveGradients();
        });
        var communication = Timing.Seconds(device, () => optimizer.CombineGradients(sync));
        var step = Timing.Seconds(device, () =>
        {
            optimizer.ClipGradNorm(1.0).cpu();
            optimizer.Step();
            compute?.RefreshWeights();
            optimizer.ZeroGrad();
        });
        return (forwardBackward, communication, step);
    }

    /// <summary>What a checkpoint of the trained weights holds: the fp32 model, or the adapter (fp32).</summary>
    public long CheckpointBytes => adapter is null ? model.UniqueNamedParameters().Sum(p => p.Param.numel()) * 4 : TrainableParameters * 4;

    /// <summary>One optimizer step as the trainer runs it, reading the loss and gradient norm back once.</summary>
    public void Step(SyntheticBatch data)
    {
        model.train();
        worker.train();
        using var scope = NewDisposeScope();
        var (_, loss) = worker.call(data.InputIds, data.Images, data.AttentionMask, data.Targets, null);
        loss!.backward();
        compute?.MoveGradients();
        stack([loss.detach(), optimizer.ClipGradNorm(1.0)]).cpu();
        optimizer.Step();
        compute?.RefreshWeights();
        optimizer.ZeroGrad();
    }

    public void Dispose()
    {
        adapter?.Dispose();
        frozenCopy?.Dispose();
        compute?.Dispose();
        optimizer.Dispose();
    }
}
