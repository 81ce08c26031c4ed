using NanoVlm.Evaluation;
using System.CommandLine;
using NanoVlm.Cli.Training;
using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Training;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm train</c>: train or fine-tune a VLM with nanoVLM's recipe; every knob is a flag with nanoVLM's default.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var d = new TrainingOptions();
        var a = new TrainArgs();
        var p = new PackingOptions();
        var r = MinRatings.Default;
        var preset = new Option<string?>("--preset") { Description = $"model preset: {string.Join(", ", Presets.Names)} (tiny: CPU, from scratch; the others from Hub backbones, see the README); default tiny" };
        var config = new Option<string?>("--config") { Description = "a nanoVLM config.json to build the model from" };
        var model = new Option<string?>("--model") { Description = "checkpoint folder or Hub repo id to fine-tune" };
        var data = new Option<string[]>("--data")
        {
            Description = "training data, repeatable for a mixture: fashion-mnist[:folder] | cauldron:<folder|file.parquet>[,subset...] | mmstar:<file|folder> | jsonl:<file> | hf:<dataset repo>[:subset,...], optionally @weight",
            DefaultValueFactory = _ => a.Data.ToArray(), AllowMultipleArgumentsPerToken = true,
        };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder, tokenizer.json or repo id ('wordlevel' builds one from the data); default: the config's lm_tokenizer" };
        var evalData = new Option<string?>("--eval-data") { Description = "data for the accuracy probe (mmstar:... or an MMStar hf: repo scores letters); default: the validation split" };
        var evalSamples = new Option<int>("--eval-samples") { Description = "samples in each accuracy probe (0 = none)", DefaultValueFactory = _ => a.EvalSamples };
        var cutoff = new Option<int?>("--cutoff") { Description = "use only this many samples of each source (after the seeded shuffle)" };
        var output = new Option<string>("--output") { Description = "folder for run folders", DefaultValueFactory = _ => a.Output };
        var runName = new Option<string?>("--run-name") { Description = "run folder name (default: nanoVLM's run name)" };
        var resume = new Option<string?>("--resume") { Description = "continue the run in this folder from its latest checkpoint" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto", DefaultValueFactory = _ => a.Device };
        var workers = new Option<int>("--workers") { Description = "data loading threads (0 = cores - 1)" };
        var threads = new Option<int?>("--threads") { Description = "torch threads (default: all cores)" };
        var push = new Option<string?>("--push-to-hub") { Description = "push the best checkpoint to this Hub repo at the end" };
        var isPrivate = new Option<bool>("--private") { Description = "with --push-to-hub: create the repo private" };
        var lrMp = new Option<double>("--lr-mp") { Description = "learning rate of the modality projector", DefaultValueFactory = _ => d.LrMp };
        var lrBackbones = new Option<double>("--lr-backbones") { Description = "learning rate of the vision encoder and decoder (0 freezes them)", DefaultValueFactory = _ => d.LrVision };
        var lrVision = new Option<double?>("--lr-vision") { Description = "learning rate of the vision encoder (0 freezes it); default --lr-backbones" };
        var lrLanguage = new Option<double?>("--lr-language") { Description = "learning rate of the decoder (0 freezes it); default --lr-backbones" };
        var packing = new Option<bool>("--packing") { Description = "pack samples into rows of lm_max_length tokens, each attending only to itself (--packing false: one sample per row)", DefaultValueFactory = _ => true };
        var maxSampleLength = new Option<int>("--max-sample-length") { Description = "with packing: drop samples of this many tokens or more", DefaultValueFactory = _ => p.MaxSampleLength };
        var maxImagesPerPack = new Option<int>("--max-images-per-pack") { Description = "with packing: images in one row at most", DefaultValueFactory = _ => p.MaxImagesPerPack };
        var maxImagesPerSample = new Option<int>("--max-images-per-sample") { Description = "with packing: drop samples with more images", DefaultValueFactory = _ => p.MaxImagesPerSample };
        var minRelevance = new Option<int>("--min-relevance-rating") { Description = "FineVision rows: drop turns rated lower for relevance", DefaultValueFactory = _ => r.Relevance };
        var minImageCorrespondence = new Option<int>("--min-image-correspondence-rating") { Description = "FineVision rows: drop turns rated lower for image correspondence", DefaultValueFactory = _ => r.ImageCorrespondence };
        var minVisualDependency = new Option<int>("--min-visual-dependency-rating") { Description = "FineVision rows: drop turns rated lower for visual dependency", DefaultValueFactory = _ => r.VisualDependency };
        var minFormatting = new Option<int>("--min-formatting-rating") { Description = "FineVision rows: drop turns rated lower for formatting", DefaultValueFactory = _ => r.Formatting };
        var batchSize = new Option<int>("--batch-size") { Description = "rows per micro-batch (a row is one sample, or several when packing)", DefaultValueFactory = _ => d.BatchSize };
        var gradAccum = new Option<int>("--grad-accum") { Description = "micro-batches per optimizer step", DefaultValueFactory = _ => d.GradientAccumulationSteps };
        var maxGradNorm = new Option<double>("--max-grad-norm") { Description = "gradient clipping norm", DefaultValueFactory = _ => d.MaxGradNorm };
        var epochs = new Option<int>("--epochs") { Description = "passes over the training data", DefaultValueFactory = _ => d.Epochs };
        var maxSteps = new Option<int?>("--max-steps") { Description = "optimizer steps (overrides --epochs)" };
        var evalInterval = new Option<int>("--eval-interval") { Description = "optimizer steps between evaluations (and checkpoints)", DefaultValueFactory = _ => d.EvalInterval };
        var valRatio = new Option<double>("--val-ratio") { Description = "share of each source held out for validation", DefaultValueFactory = _ => d.ValRatio };
        var seed = new Option<int>("--seed") { Description = "seed for initialisation, shuffling and splits", DefaultValueFactory = _ => d.Seed };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay", DefaultValueFactory = _ => d.WeightDecay };
        var freezeVision = new Option<bool>("--freeze-vision") { Description = "do not train the vision encoder" };
        var freezeDecoder = new Option<bool>("--freeze-decoder") { Description = "do not train the language decoder" };
        var bf16 = new Option<bool>("--bf16") { Description = "bf16 compute with fp32 master weights" };
        var checkpointInterval = new Option<int>("--checkpoint-interval") { Description = "also checkpoint every N optimizer steps (0 = at evaluations)" };
        var l = new LoraConfig();
        var loraRank = new Option<int?>("--lora-rank") { Description = "train a LoRA adapter of this rank on the frozen model (saved as a PEFT adapter) instead of the model" };
        var loraAlpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha: the update is scaled by alpha / rank", DefaultValueFactory = _ => l.Alpha };
        var loraDropout = new Option<double>("--lora-dropout") { Description = "dropout on the adapter's input", DefaultValueFactory = _ => l.Dropout };
        var loraTargets = new Option<string>("--lora-targets") { Description = "decoder linears to adapt", DefaultValueFactory = _ => string.Join(',', LoraConfig.DecoderLinears) };
        var loraVision = new Option<bool>("--lora-vision") { Description = "also adapt the vision encoder's linears" };
        var loraProjector = new Option<bool>("--lora-projector") { Description = "also adapt the modality projector" };
        var lrLora = new Option<double>("--lr-lora") { Description = "learning rate of the LoRA adapter", DefaultValueFactory = _ => d.LrLora };
        var evalTasks = new Option<string?>("--eval-tasks") { Description = $"lmms-eval tasks to run on the model during training ({string.Join(",", BenchmarkTasks.Names)}, or nanovlm); metrics go to metrics.jsonl as task/metric" };
        var evalEvery = new Option<int?>("--eval-every") { Description = "optimizer steps between --eval-tasks runs (default --eval-interval)" };
        var evalLimit = new Option<int?>("--eval-limit") { Description = "documents per task at each --eval-tasks run (default all)" };
        var evalDataset = new Option<string[]>("--eval-dataset") { Description = "TASK=PATH_OR_REPO: read a task's documents from a local parquet file/folder or another repo (repeatable)" };
        var bestBy = new Option<string?>("--best-by") { Description = "keep as best/ the checkpoint with the highest task metric, e.g. mmstar/average (default: accuracy, else validation loss)" };
        var distributed = new Option<string>("--distributed") { Description = "with several processes, how gradients meet: auto (NCCL on GPUs, MPI on the CPU), mpi, nccl", DefaultValueFactory = _ => "auto" };
        distributed.AcceptOnlyFromAmong("auto", "mpi", "nccl");
        var shardOptimizer = new Option<bool>("--shard-optimizer") { Description = "with several processes: each keeps 1/N of the AdamW state (ZeRO stage 1), same numbers" };
        var maxBadSteps = new Option<int>("--max-bad-steps") { Description = "stop after this many non-finite steps", DefaultValueFactory = _ => d.MaxBadSteps };

        var cmd = new Command("train", "Train or fine-tune a VLM (nanoVLM's recipe); Ctrl+C saves a resumable checkpoint")
        {
            preset, config, model, data, tokenizer, evalData, evalSamples, cutoff, output, runName, resume, device, workers, threads, push,
            isPrivate, lrMp, lrBackbones, lrVision, lrLanguage, packing, maxSampleLength, maxImagesPerPack, maxImagesPerSample, minRelevance,
            minImageCorrespondence, minVisualDependency, minFormatting, batchSize, gradAccum, maxGradNorm, epochs, maxSteps, evalInterval, valRatio, seed, weightDecay,
            freezeVision, freezeDecoder, bf16, checkpointInterval, maxBadSteps, loraRank, loraAlpha, loraDropout, loraTargets, loraVision, loraProjector, lrLora,
            evalTasks, evalEvery, evalLimit, evalDataset, bestBy, shardOptimizer, distributed,
        };
        cmd.SetAction(parse =>
        {
            using var cancel = CtrlC.Token(CancellationToken.None);
            var outcome = parse.GetValue(resume) is { } runDir
                ? TrainSession.Resume(runDir, ResumeChange(cmd, parse, resume, device, workers), cancel.Token)
                : TrainSession.Run(new TrainArgs
                {
                    Preset = parse.GetValue(preset), ConfigFile = parse.GetValue(config), Model = parse.GetValue(model),
                    Data = parse.GetValue(data)!, Tokenizer = parse.GetValue(tokenizer), EvalData = parse.GetValue(evalData),
                    EvalSamples = parse.GetValue(evalSamples), Cutoff = parse.GetValue(cutoff), Output = parse.GetValue(output)!,
                    RunName = parse.GetValue(runName), Device = parse.GetValue(device)!, Workers = parse.GetValue(workers), Threads = parse.GetValue(threads),
                    PushToHub = parse.GetValue(push), Private = parse.GetValue(isPrivate),
                    EvalTasks = parse.GetValue(evalTasks), EvalEvery = parse.GetValue(evalEvery), EvalLimit = parse.GetValue(evalLimit),
                    EvalDatasets = parse.GetValue(evalDataset) ?? [], BestBy = parse.GetValue(bestBy), Distributed = parse.GetValue(distributed)!,
                    Packing = parse.GetValue(packing)
                        ? new PackingOptions
                        {
                            MaxSampleLength = parse.GetValue(maxSampleLength), MaxImagesPerPack = parse.GetValue(maxImagesPerPack),
                            MaxImagesPerSample = parse.GetValue(maxImagesPerSample),
                        }
                        : null,
                    MinRatings = new MinRatings(parse.GetValue(minRelevance), parse.GetValue(minImageCorrespondence),
                        parse.GetValue(minVisualDependency), parse.GetValue(minFormatting)),
                    Lora = parse.GetValue(loraRank) is { } rank
                        ? new LoraConfig
                        {
                            Rank = rank, Alpha = parse.GetValue(loraAlpha), Dropout = parse.GetValue(loraDropout),
                            TargetModules = LoraConfig.Targets(parse.GetValue(loraTargets)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                                parse.GetValue(loraVision), parse.GetValue(loraProjector)),
                        }
                        : null,
                    Options = new TrainingOptions
                    {
                        LrMp = parse.GetValue(lrMp), LrVision = parse.GetValue(lrVision) ?? parse.GetValue(lrBackbones),
                        LrLanguage = parse.GetValue(lrLanguage) ?? parse.GetValue(lrBackbones), BatchSize = parse.GetValue(batchSize),
                        GradientAccumulationSteps = parse.GetValue(gradAccum), MaxGradNorm = parse.GetValue(maxGradNorm),
                        Epochs = parse.GetValue(epochs), MaxSteps = parse.GetValue(maxSteps), EvalInterval = parse.GetValue(evalInterval),
                        ValRatio = parse.GetValue(valRatio), Seed = parse.GetValue(seed), WeightDecay = parse.GetValue(weightDecay),
                        FreezeVision = parse.GetValue(freezeVision), FreezeDecoder = parse.GetValue(freezeDecoder), Bf16 = parse.GetValue(bf16),
                        CheckpointInterval = parse.GetValue(checkpointInterval), MaxBadSteps = parse.GetValue(maxBadSteps), LrLora = parse.GetValue(lrLora),
                        ShardOptimizer = parse.GetValue(shardOptimizer),
                    },
                }, cancel.Token);
            var sync = GradientSync.FromEnvironment();
            if (sync.IsMain) Console.WriteLine($"model: {outcome.ModelFolder}");
            // One process stopped by Ctrl+C or SIGTERM says so (130). The processes of a job stopped together exit 0 after their
            // checkpoint: mpirun and srun report any non-zero process as the job failing.
            return outcome.Result.Interrupted && sync.WorldSize == 1 ? 130 : 0;
        });
        return cmd;
    }

    /// <summary>
    /// A resumed run keeps the arguments of its run.json, so its numbers continue exactly: only options that leave them alone
    /// (where and how fast it runs: <c>--device</c>, <c>--workers</c>) may come with <c>--resume</c>, and say so; any other is refused.
    /// </summary>
    static Func<TrainArgs, TrainArgs> ResumeChange(Command cmd, ParseResult parse, Option resume, Option<string> device, Option<int> workers)
    {
        Option[] applied = [device, workers];
        bool Given(Option o) => parse.GetResult(o) is { Implicit: false };
        var given = cmd.Options.Where(o => o != resume && Given(o)).ToList();
        var refused = given.Except(applied).Select(o => o.Name).ToList();
        if (refused.Count > 0)
            throw new NanoVlmException(
                $"--resume continues the run with the arguments of its run.json; {string.Join(", ", refused)} cannot change them (start a new run for that; only {string.Join(" and ", applied.Select(o => o.Name))} apply to a resumed run)");
        foreach (var option in given)
            Console.WriteLine($"resume: {option.Name} {parse.GetResult(option)!.Tokens.LastOrDefault()?.Value} applies to this session (run.json keeps its own)");
        return args => args with
        {
            Device = Given(device) ? parse.GetValue(device)! : args.Device,
            Workers = Given(workers) ? parse.GetValue(workers) : args.Workers,
        };
    }
}
