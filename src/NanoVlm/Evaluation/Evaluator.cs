using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Evaluation;

public sealed record Prediction(string Source, string Question, string Answer, string Output, bool Correct, string? Category, string? L2Category);

public sealed record EvaluationResult(IReadOnlyList<Prediction> Predictions, long Skipped)
{
    public int Total => Predictions.Count;
    public int Correct => Predictions.Count(p => p.Correct);
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;

    /// <summary>Accuracy per category (MMStar's category, or l2_category), sorted by name.</summary>
    public IReadOnlyList<(string Category, int Total, double Accuracy)> ByCategory(bool level2 = false) =>
        Predictions.GroupBy(p => (level2 ? p.L2Category : p.Category) ?? "(none)")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count(), (double)g.Count(p => p.Correct) / g.Count()))
            .ToList();

    /// <summary>
    /// Accuracy per question text when the data asks few distinct questions (Fashion-MNIST asks three kinds, whose accuracies differ
    /// widely); empty otherwise. In order of first appearance.
    /// </summary>
    public IReadOnlyList<(string Question, int Total, double Accuracy)> ByQuestion(int maxKinds = 10)
    {
        var groups = Predictions.GroupBy(p => p.Question).ToList();
        if (groups.Count < 2 || groups.Count > maxKinds) return [];
        return groups.Select(g => (g.Key, g.Count(), (double)g.Count(p => p.Correct) / g.Count())).ToList();
    }
}

/// <summary>Batched greedy answering of each sample's first question, scored against its answer.</summary>
public static class Evaluator
{
    public static EvaluationResult Run(VisionLanguageModel model, VlmProcessor processor, IEnumerable<VqaSample> samples,
        Func<string, string, bool> score, int batchSize = 64, int maxNewTokens = 8, Action<int>? progress = null,
        CancellationToken cancel = default)
    {
        if (batchSize is < 1 or > VqaDataLoader.MaxBatchSize)
            throw NanoVlmException.For("BatchSize", $"must be between 1 and {VqaDataLoader.MaxBatchSize}, got {batchSize}");
        var wasTraining = model.training;
        model.eval();
        var predictions = new List<Prediction>();
        var skippedBefore = processor.Skipped.Total;
        var options = new GenerationOptions { Greedy = true, MaxNewTokens = maxNewTokens };
        try
        {
            foreach (var batch in VqaDataLoader.Batches(samples, processor.EncodeForEvaluation, b => processor.Collate(b, training: false),
                         batchSize, cancel: cancel))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var ids = model.Generate(batch.InputIds, batch.Images, batch.AttentionMask, options);
                    for (var i = 0; i < batch.Samples.Count; i++)
                    {
                        var output = processor.DecodeAnswer(ids[i]).Trim();
                        var sample = batch.Samples[i];
                        predictions.Add(new Prediction(sample.Source, sample.Turns[0].User, batch.Answers[i], output,
                            score(output, batch.Answers[i]), sample.Category, sample.L2Category));
                    }
                }
                progress?.Invoke(predictions.Count);
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return new EvaluationResult(predictions, processor.Skipped.Total - skippedBefore);
    }
}
