using NanoVlm.Models;
using NanoVlm.Data;

namespace NanoVlm.Training;

/// <summary>Everything a training run is made from; saved as <c>run.json</c> so <c>--resume</c> rebuilds the same run.</summary>
public sealed record TrainArgs
{
    public string? Preset { get; init; }
    public string? ConfigFile { get; init; }
    /// <summary>A checkpoint folder or repo id to fine-tune.</summary>
    public string? Model { get; init; }
    public IReadOnlyList<string> Data { get; init; } = ["fashion-mnist"];
    /// <summary>A tokenizer folder, tokenizer.json or repo id; "wordlevel" builds one from the training data.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Evaluation data for the accuracy probe (default: the validation split, exact match).</summary>
    public string? EvalData { get; init; }
    public int EvalSamples { get; init; } = 500;
    public int? Cutoff { get; init; }
    public string Output { get; init; } = "runs";
    public string? RunName { get; init; }
    public string Device { get; init; } = "auto";
    public int Workers { get; init; }
    /// <summary>Torch threads (null = all cores); kept so a resumed run computes exactly as the first one did.</summary>
    public int? Threads { get; init; }
    public string? PushToHub { get; init; }
    public bool Private { get; init; }
    public TrainingOptions Options { get; init; } = new();
    /// <summary>
    /// The processes the run was started with. With the batch size it fixes the global micro-batch (batch x processes), which a
    /// resume with another number of processes keeps by changing the batch per process, so the run goes on with the same samples.
    /// </summary>
    public int Processes { get; init; } = 1;
    /// <summary>How several processes combine gradients: auto (NCCL on GPUs, MPI on the CPU), mpi or nccl.</summary>
    public string Distributed { get; init; } = "auto";
    /// <summary>Pack samples into rows of lm_max_length tokens; null: one sample per row (also what run.json files from before packing mean).</summary>
    public PackingOptions? Packing { get; init; }
    /// <summary>Minimum per-turn quality ratings of FineVision-style rows.</summary>
    public MinRatings MinRatings { get; init; } = MinRatings.Default;
    /// <summary>lmms-eval tasks (comma-separated, or "nanovlm") run on the model every <see cref="EvalEvery"/> steps; null: none.</summary>
    public string? EvalTasks { get; init; }
    /// <summary>Optimizer steps between task runs; null: at every evaluation (<see cref="TrainingOptions.EvalInterval"/>).</summary>
    public int? EvalEvery { get; init; }
    /// <summary>Documents per task at each run (null: every one).</summary>
    public int? EvalLimit { get; init; }
    /// <summary><c>TASK=PATH_OR_REPO</c>: where a task's documents come from, when not its own Hub dataset.</summary>
    public IReadOnlyList<string> EvalDatasets { get; init; } = [];
    /// <summary>A task metric (<c>mmstar/average</c>) that picks the best checkpoint instead of accuracy or validation loss.</summary>
    public string? BestBy { get; init; }
    /// <summary>Train a LoRA adapter on the frozen model instead of the model itself; null: full training.</summary>
    public LoraConfig? Lora { get; init; }
}
