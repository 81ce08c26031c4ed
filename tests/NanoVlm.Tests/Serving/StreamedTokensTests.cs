using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Serving;

namespace NanoVlm.Tests.Serving;

/// <summary>How an answer streams token by token.</summary>
public class StreamedTokensTests
{
    /// <summary>
    /// With log-probabilities asked for, every token is a delta of its own, as OpenAI streams them: a token whose text is held back
    /// (a byte-level model's half character) comes with its log-probability and empty text, not later with the next text.
    /// </summary>
    [Fact]
    public async Task WithLogprobsEveryTokenIsADeltaEvenOneWithoutText()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 3);
        using var engine = new ChatEngine(vlm, new ChatEngineOptions());
        var options = new GenerationOptions { Temperature = 1.0, Seed = 7, MaxNewTokens = 40, Logprobs = 0, StopAtEos = false };
        var job = engine.Submit(new ChatRequest([new PromptMessage("user", "Say something.")], [], options));
        var deltas = new List<ChatDelta>();
        await foreach (var delta in job.Deltas.ReadAllAsync()) deltas.Add(delta);
        var result = job.Result;
        Assert.Equal(40, result.CompletionTokens);
        Assert.All(deltas, d => Assert.Single(d.Logprobs!));
        Assert.Equal(40, deltas.Count);
        // The random bytes include halves of characters: some tokens stream no text of their own.
        Assert.Contains(deltas, d => d.Text.Length == 0);
        Assert.Equal(result.Choices[0].Text, string.Concat(deltas.Select(d => d.Text)));
    }

    [Fact]
    public async Task WithoutLogprobsOnlyTextIsStreamed()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 3);
        using var engine = new ChatEngine(vlm, new ChatEngineOptions());
        var options = new GenerationOptions { Temperature = 1.0, Seed = 7, MaxNewTokens = 40, StopAtEos = false };
        var job = engine.Submit(new ChatRequest([new PromptMessage("user", "Say something.")], [], options));
        var deltas = new List<ChatDelta>();
        await foreach (var delta in job.Deltas.ReadAllAsync()) deltas.Add(delta);
        Assert.All(deltas.SkipLast(1), d => Assert.NotEmpty(d.Text));
        Assert.True(deltas.Count < 40);
        Assert.Equal(job.Result.Choices[0].Text, string.Concat(deltas.Select(d => d.Text)));
    }
}
