using System.Collections.Concurrent;
using System.Diagnostics;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Models;
using NanoVlm.Runtime;
using static TorchSharp.torch;

namespace NanoVlm.Evaluation;

/// <summary>Progress of one task: documents answered, of how many, and tokens generated so far.</summary>
public readonly record struct BenchmarkProgress(string Task, int Done, int Total, long Tokens, double Seconds);

/// <summary>
/// Puts a task's documents to the model as lmms-eval's <c>generate_until</c> does: the <c>doc_to_text</c> prompt after the images
/// in the model's own chat format, greedy, the task's <c>max_new_tokens</c>, the answer cut before the first stop string. Documents
/// are read and their images processed on worker threads ahead of the batched, KV-cached generation; each is scored as it comes.
/// </summary>
public static class BenchmarkRunner
{
    public static TaskResult Run(VisionLanguageModel model, VlmProcessor processor, TaskDataset data, int? limit = null, int batchSize = 32,
        IProgress<BenchmarkProgress>? progress = null, CancellationToken cancel = default)
    {
        if (batchSize is < 1 or > VqaDataLoader.MaxBatchSize)
            throw NanoVlmException.For("BatchSize", $"must be between 1 and {VqaDataLoader.MaxBatchSize}, got {batchSize}");
        var task = data.Task;
        var total = Math.Min(data.Count, limit ?? int.MaxValue);
        var options = new GenerationOptions { Greedy = true, MaxNewTokens = task.MaxNewTokens ?? BenchmarkTask.DefaultMaxNewTokens };
        var scorer = new TaskScorer(task);
        var pending = new ConcurrentQueue<(EvalDoc Doc, string Prompt)>();
        var (done, unprompted, tokens) = (0, 0, 0L);
        var clock = Stopwatch.StartNew();
        var wasTraining = model.training;
        model.eval();

        IEnumerable<VqaSample> Samples()
        {
            foreach (var doc in data.Docs(limit, cancel))
            {
                var prompt = task.Prompt(doc);
                pending.Enqueue((doc, prompt));
                var images = task.ImageColumns(doc).Where(c => doc.ImageBytes(c) is not null).Select(doc.Image).ToList();
                yield return new VqaSample(images, [new VqaTurn(prompt, "")], doc.Source);
            }
        }

        // Documents the processor skipped never reach a batch: every queued document before the next answered one was skipped.
        void ScoreUpTo(string? source, string response)
        {
            while (pending.TryDequeue(out var next))
            {
                if (next.Doc.Source == source) { scorer.Add(next.Doc, next.Prompt, response); done++; return; }
                scorer.Add(next.Doc, next.Prompt, "");
                (done, unprompted) = (done + 1, unprompted + 1);
            }
        }

        try
        {
            foreach (var batch in VqaDataLoader.Batches(Samples(), processor.EncodeForEvaluation, b => processor.Collate(b, training: false),
                         batchSize, cancel: cancel))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var ids = model.Generate(batch.InputIds, batch.Images, batch.AttentionMask, options);
                    for (var i = 0; i < batch.Samples.Count; i++)
                    {
                        var row = ids[i].cpu().data<long>().ToArray();
                        tokens += row.TakeWhile(id => id != processor.Tokenizer.EosTokenId).Count();
                        ScoreUpTo(batch.Samples[i].Source, CutAtStop(processor.DecodeAnswer(ids[i]), task.Until));
                    }
                }
                progress?.Report(new BenchmarkProgress(task.Name, done, total, tokens, clock.Elapsed.TotalSeconds));
            }
            ScoreUpTo(null, "");
        }
        finally
        {
            if (wasTraining) model.train();
        }
        progress?.Report(new BenchmarkProgress(task.Name, done, total, tokens, clock.Elapsed.TotalSeconds));
        return scorer.Finish(data.Origin, data.Count, unprompted, tokens, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Re-scores saved answers (<see cref="LmmsEvalLog.ReadResponses"/>) with the task's filter and metrics, without a model: the
    /// documents named by the answers, in doc_id order, their prompts rebuilt from the dataset.
    /// </summary>
    public static TaskResult Rescore(TaskDataset data, IReadOnlyDictionary<int, string> responses, CancellationToken cancel = default)
    {
        var scorer = new TaskScorer(data.Task);
        foreach (var doc in data.Docs(responses.Keys.Max() + 1, cancel))
            if (responses.TryGetValue(doc.Id, out var response)) scorer.Add(doc, data.Task.Prompt(doc), response);
        return scorer.Finish(data.Origin, data.Count);
    }

    /// <summary>The text before the first occurrence of each stop string in turn, as lmms-eval's models apply <c>until</c>.</summary>
    public static string CutAtStop(string text, IReadOnlyList<string> until)
    {
        foreach (var stop in until.Where(s => s.Length > 0))
            if (text.IndexOf(stop, StringComparison.Ordinal) is var at and >= 0) text = text[..at];
        return text;
    }
}
