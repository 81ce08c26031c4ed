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
        IProgress<BenchmarkProgress>? progress = null, PromptFormat format = PromptFormat.LmmsEval, CancellationToken cancel = default,
        EvaluationShare? share = null)
    {
        if (batchSize is < 1 or > VqaDataLoader.MaxBatchSize)
            throw NanoVlmException.For("BatchSize", $"must be between 1 and {VqaDataLoader.MaxBatchSize}, got {batchSize}");
        share ??= EvaluationShare.Alone;
        var task = data.Task;
        var scorer = new TaskScorer(task);
        var clock = Stopwatch.StartNew();
        var (unprompted, tokens) = (0, 0L);
        var answers = Answer(model, processor, data, limit, batchSize, progress, format, share, clock, cancel);
        if (share.World == 1)
        {
            foreach (var a in answers)
            {
                scorer.Add(a.Doc, a.Prompt, a.Response);
                (unprompted, tokens) = (unprompted + (a.Unprompted ? 1 : 0), tokens + a.Tokens);
            }
            return scorer.Finish(data.Origin, data.Count, unprompted, tokens, clock.Elapsed.TotalSeconds);
        }
        // Several processes: each sends its answers to rank 0, which scores every document in order.
        var mine = answers.Select(a => new SharedAnswer(a.Doc.Id, a.Response, a.Unprompted, a.Tokens)).ToList();
        var all = share.Gather(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(mine))
            .SelectMany(bytes => System.Text.Json.JsonSerializer.Deserialize<List<SharedAnswer>>(bytes)!).ToDictionary(a => a.DocId);
        if (!share.IsMain) return scorer.Finish(data.Origin, data.Count);
        foreach (var doc in data.Docs(limit, cancel))
        {
            var (prompt, _) = Prompt(task, doc, format);
            var answer = all[doc.Id];
            scorer.Add(doc, prompt, answer.Response);
            (unprompted, tokens) = (unprompted + (answer.Unprompted ? 1 : 0), tokens + answer.Tokens);
        }
        return scorer.Finish(data.Origin, data.Count, unprompted, tokens, clock.Elapsed.TotalSeconds);
    }

    sealed record SharedAnswer(int DocId, string Response, bool Unprompted, long Tokens);

    sealed record Answered(EvalDoc Doc, string Prompt, string Response, bool Unprompted, long Tokens);

    static (string User, string AssistantPrefix) Prompt(BenchmarkTask task, EvalDoc doc, PromptFormat format) =>
        format == PromptFormat.NanoVlm ? NanoVlmPromptFormat.Apply(task.Name, task.Prompt(doc)) : (task.Prompt(doc), "");

    /// <summary>This process's documents answered, in document order (those the processor could not prompt with an empty answer).</summary>
    static IEnumerable<Answered> Answer(VisionLanguageModel model, VlmProcessor processor, TaskDataset data, int? limit, int batchSize,
        IProgress<BenchmarkProgress>? progress, PromptFormat format, EvaluationShare share, Stopwatch clock, CancellationToken cancel)
    {
        var task = data.Task;
        var total = Enumerable.Range(0, Math.Min(data.Count, limit ?? int.MaxValue)).Count(share.Answers);
        var options = new GenerationOptions { Greedy = true, MaxNewTokens = task.MaxNewTokens ?? BenchmarkTask.DefaultMaxNewTokens };
        var pending = new ConcurrentQueue<(EvalDoc Doc, string Prompt)>();
        var (done, tokens) = (0, 0L);
        var wasTraining = model.training;
        model.eval();

        IEnumerable<VqaSample> Samples()
        {
            foreach (var doc in data.Docs(limit, cancel).Where(d => share.Answers(d.Id)))
            {
                var (prompt, assistantPrefix) = Prompt(task, doc, format);
                pending.Enqueue((doc, prompt));
                var images = task.ImageColumns(doc).Where(c => doc.ImageBytes(c) is not null).Select(doc.Image).ToList();
                yield return new VqaSample(images, [new VqaTurn(prompt, "")], doc.Source) { AssistantPrefix = assistantPrefix };
            }
        }

        // Documents the processor skipped never reach a batch: every queued document before the next answered one was skipped.
        IEnumerable<Answered> UpTo(string? source, string response, long generated)
        {
            while (pending.TryDequeue(out var next))
            {
                done++;
                if (next.Doc.Source == source)
                {
                    yield return new Answered(next.Doc, next.Prompt, response, false, generated);
                    yield break;
                }
                yield return new Answered(next.Doc, next.Prompt, "", true, 0);
            }
        }

        try
        {
            foreach (var batch in VqaDataLoader.Batches(Samples(), processor.EncodeForEvaluation, b => processor.Collate(b, training: false),
                         batchSize, cancel: cancel))
            {
                var answered = new List<Answered>();
                using (batch)
                using (NewDisposeScope())
                {
                    var ids = model.Generate(batch.InputIds, batch.Images, batch.AttentionMask, options);
                    for (var i = 0; i < batch.Samples.Count; i++)
                    {
                        var generated = ids[i].cpu().data<long>().TakeWhile(id => id != processor.Tokenizer.EosTokenId).LongCount();
                        tokens += generated;
                        var answer = processor.DecodeAnswer(ids[i]);
                        answered.AddRange(UpTo(batch.Samples[i].Source, format == PromptFormat.NanoVlm ? answer : CutAtStop(answer, task.Until), generated));
                    }
                }
                foreach (var a in answered) yield return a;
                progress?.Report(new BenchmarkProgress(task.Name, done, total, tokens, clock.Elapsed.TotalSeconds));
            }
            foreach (var a in UpTo(null, "", 0)) yield return a;
        }
        finally
        {
            if (wasTraining) model.train();
        }
        progress?.Report(new BenchmarkProgress(task.Name, done, total, tokens, clock.Elapsed.TotalSeconds));
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
