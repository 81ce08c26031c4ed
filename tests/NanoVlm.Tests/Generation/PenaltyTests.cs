using NanoVlm.Generation;
using NanoVlm.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Generation;

/// <summary>OpenAI's frequency and presence penalties: on the scores, in generate and in the batch decoder alike.</summary>
[Collection(nameof(RunsAlone))]
public class PenaltyTests
{
    [Fact]
    public void PenaltiesLowerTheScoresOfUsedTokensAsOpenAiDefinesThem()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 1, 2, 3, 4 }).view(1, 4);
        var counts = tensor(new float[] { 0, 1, 3, 0 }).view(1, 4);
        var penalized = Sampling.Penalize(logits, counts, frequency: 0.5, presence: 1.0);
        Assert.Equal([1f, 0.5f, 0.5f, 4f], penalized.data<float>().ToArray());
        Assert.Contains("FrequencyPenalty must be between -2 and 2",
            Assert.Throws<NanoVlmException>(() => new GenerationOptions { FrequencyPenalty = 3 }.Validate()).Message);
    }

    [Fact]
    public void APresencePenaltyStopsRepetitionAndTheBatchDecoderAgreesWithGenerate()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(seed: 3);
        model.eval();
        model.EosTokenId = -1;   // no token ends the answer: the whole answer is compared
        var (ids, _, images) = TestModels.Batch(model, [1], [5]);
        var plain = new GenerationOptions { MaxNewTokens = 12, Greedy = true, StopAtEos = false };
        var penalized = plain with { PresencePenalty = 2, FrequencyPenalty = 2 };
        var repeated = model.Generate(ids, images, null, plain)[0].data<long>().ToArray();
        var varied = model.Generate(ids, images, null, penalized)[0].data<long>().ToArray();
        Assert.True(repeated.Distinct().Count() < repeated.Length, "greedy decoding of this model repeats nothing: the test proves nothing");
        Assert.True(varied.Distinct().Count() > repeated.Distinct().Count(), $"penalized {string.Join(",", varied)} against {string.Join(",", repeated)}");

        using var decoder = new BatchDecoder(model);
        var row = decoder.Join(ids, images, null, [penalized])[0];
        var tokens = new List<long>();
        while (decoder.Count > 0)
            foreach (var t in decoder.Step())
                if (t.Row == row) tokens.Add(t.Token);
        Assert.Equal(varied, tokens.ToArray());
    }
}
