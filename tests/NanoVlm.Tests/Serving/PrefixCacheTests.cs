using NanoVlm.Generation;
using NanoVlm.Serving;

namespace NanoVlm.Tests.Serving;

/// <summary>
/// The prefix cache on the golden v0.2 model: a conversation's second turn prefills only what follows the first turn's prompt and
/// answer, and its answer is the one of an engine without the cache: the same greedy tokens, the same log-probabilities within 1e-5.
/// </summary>
public class PrefixCacheTests
{
    static void AssertSame(ChatResult expected, ChatResult actual)
    {
        Assert.Equal(expected.Choices[0].Text, actual.Choices[0].Text);
        var (a, b) = (expected.Logprobs![0], actual.Logprobs![0]);
        Assert.Equal(a.Select(t => t.Token), b.Select(t => t.Token));
        foreach (var (x, y) in a.Zip(b))
        {
            Assert.Equal(x.Logprob, y.Logprob, 1e-5);
            Assert.Equal(x.Top.Select(t => t.Token), y.Top.Select(t => t.Token));
            foreach (var (p, q) in x.Top.Zip(y.Top)) Assert.Equal(p.Logprob, q.Logprob, 1e-5);
        }
    }

    [Fact]
    public async Task ASecondTurnPrefillsOnlyWhatIsNewAndAnswersAsWithoutTheCache()
    {
        using var vlm = ServedModel.LoadApart();
        var image = ServedModel.Decoded(vlm, 0);
        var other = ServedModel.Decoded(vlm, 1);
        using var cached = new ChatEngine(vlm, new ChatEngineOptions());
        using var plain = new ChatEngine(vlm, new ChatEngineOptions { PrefixCacheBytes = 0, ImageCacheBytes = 0 });
        Assert.Null(plain.Prefixes);

        var firstJob = cached.Submit(ServedModel.Turn([image], "What is in the image?"));
        var first = await firstJob.ResultAsync();
        Assert.Equal(0, firstJob.CachedTokens);
        AssertSame(await plain.Submit(ServedModel.Turn([image], "What is in the image?")).ResultAsync(), first);

        var second = ServedModel.Turn([image], "What is in the image?", first.Choices[0].Text, "Describe it again.");
        var secondJob = cached.Submit(second);
        var withCache = await secondJob.ResultAsync();
        // The whole first prompt, image included, and the first answer's tokens as the second prompt has them again.
        Assert.InRange(secondJob.CachedTokens, firstJob.PromptTokens + 1, firstJob.PromptTokens + first.CompletionTokens);
        Assert.Equal(withCache.CachedTokens, secondJob.CachedTokens);
        AssertSame(await plain.Submit(second).ResultAsync(), withCache);

        // The same words about another image share only what comes before the image.
        var otherJob = cached.Submit(ServedModel.Turn([other], "What is in the image?"));
        var otherAnswer = await otherJob.ResultAsync();
        Assert.InRange(otherJob.CachedTokens, 1, firstJob.PromptTokens / 2);
        AssertSame(await plain.Submit(ServedModel.Turn([other], "What is in the image?")).ResultAsync(), otherAnswer);
        Assert.True(cached.Prefixes!.HitTokens >= firstJob.PromptTokens);
        Assert.True(cached.Prefixes.Bytes > 0);
    }

    [Fact]
    public async Task TheCacheKeepsWithinItsBytes()
    {
        using var vlm = ServedModel.LoadApart();
        var image = ServedModel.Decoded(vlm, 0);
        using var probe = new ChatEngine(vlm, new ChatEngineOptions());
        await probe.Submit(ServedModel.Turn([image], "What is in the image?")).ResultAsync();
        var one = probe.Prefixes!.Bytes;
        using var small = new ChatEngine(vlm, new ChatEngineOptions { PrefixCacheBytes = one + one / 2 });
        await small.Submit(ServedModel.Turn([image], "What is in the image?")).ResultAsync();
        await small.Submit(ServedModel.Turn([], "Something else entirely")).ResultAsync();
        Assert.True(small.Prefixes!.Bytes <= one + one / 2);
    }

    /// <summary>
    /// Conversations at once, on an engine whose caches hold about two prompts (so entries are pushed out while others use them):
    /// every turn answers as an engine without caches does.
    /// </summary>
    [Fact]
    public async Task ConversationsAtOnceUnderEvictionAnswerAsWithoutTheCaches()
    {
        using var vlm = ServedModel.LoadApart();
        var images = new[] { ServedModel.Decoded(vlm, 0), ServedModel.Decoded(vlm, 1) };
        using var probe = new ChatEngine(vlm, new ChatEngineOptions());
        await probe.Submit(ServedModel.Turn([images[0]], "What is in the image?")).ResultAsync();
        using var cached = new ChatEngine(vlm, new ChatEngineOptions
        {
            PrefixCacheBytes = probe.Prefixes!.Bytes * 2, ImageCacheBytes = probe.ImageCache!.Bytes * 2, PrefillChunk = 5, MaxBatch = 4,
        });
        using var plain = new ChatEngine(vlm, new ChatEngineOptions { PrefixCacheBytes = 0, ImageCacheBytes = 0, PrefillChunk = 0, IdlePrefillChunk = 0 });

        async Task<List<(string[] Texts, ChatResult Answer)>> Converse(int c)
        {
            var texts = new List<string> { $"What is in the image? ({c})" };
            var turns = new List<(string[], ChatResult)>();
            for (var turn = 0; turn < 3; turn++)
            {
                var answer = await cached.Submit(ServedModel.Turn([images[c % 2]], [.. texts])).ResultAsync();
                turns.Add(([.. texts], answer));
                texts.AddRange([answer.Choices[0].Text, $"And then? ({turn})"]);
            }
            return turns;
        }
        var conversations = await Task.WhenAll(Enumerable.Range(0, 4).Select(Converse));
        for (var c = 0; c < conversations.Length; c++)
            foreach (var (texts, answer) in conversations[c])
                AssertSame(await plain.Submit(ServedModel.Turn([images[c % 2]], texts)).ResultAsync(), answer);
        Assert.True(cached.Prefixes!.HitTokens > 0);
        Assert.True(cached.Prefixes.Bytes <= probe.Prefixes.Bytes * 2);
    }

    /// <summary>Chunked prefill (a few positions between decoding steps) answers as a whole prefill does, also while others decode.</summary>
    [Fact]
    public async Task APromptPrefilledInChunksAnswersAsAWholePrefill()
    {
        using var vlm = ServedModel.LoadApart();
        var image = ServedModel.Decoded(vlm, 0);
        using var chunked = new ChatEngine(vlm, new ChatEngineOptions { PrefillChunk = 7, PrefixCacheBytes = 0 });
        using var whole = new ChatEngine(vlm, new ChatEngineOptions { PrefillChunk = 0, IdlePrefillChunk = 0, PrefixCacheBytes = 0 });
        var request = ServedModel.Turn([image], "What is in the image?");
        // Another answer decoding meanwhile: the prompt's chunks go in between its steps.
        var running = chunked.Submit(ServedModel.Turn([], "Tell a long story") with { Options = new GenerationOptions { Greedy = true, MaxNewTokens = 40, Logprobs = 5 } });
        var answer = chunked.Submit(request);
        AssertSame(await whole.Submit(request).ResultAsync(), await answer.ResultAsync());
        AssertSame(await whole.Submit(ServedModel.Turn([], "Tell a long story") with { Options = new GenerationOptions { Greedy = true, MaxNewTokens = 40, Logprobs = 5 } }).ResultAsync(),
            await running.ResultAsync());
        Assert.True(answer.PromptTokens > 7 * 3, "the prompt takes several chunks");
    }

    /// <summary>A prompt is prefilled in large parts while nothing decodes, and in small ones between the steps of answers that do.</summary>
    [Fact]
    public async Task APromptTakesSmallPartsOnlyWhileAnswersDecode()
    {
        using var vlm = ServedModel.LoadApart();
        using var engine = new ChatEngine(vlm, new ChatEngineOptions { PrefillChunk = 3, IdlePrefillChunk = 10, PrefixCacheBytes = 0 });
        const string Long = "Tell a long story about the sea, the sky and the ships that sail between them";
        var alone = engine.Submit(ServedModel.Turn([], Long));
        await alone.ResultAsync();
        Assert.Equal(((alone.PromptTokens + 9) / 10, (long)alone.PromptTokens), engine.Prefilled);

        var running = engine.Submit(ServedModel.Turn([], "Go on") with { Options = new GenerationOptions { Greedy = true, MaxNewTokens = 200, StopAtEos = false } });
        await running.Deltas.WaitToReadAsync();
        var before = engine.Prefilled;
        var beside = engine.Submit(ServedModel.Turn([], Long));
        await beside.ResultAsync();
        Assert.Equal((before.Parts + (beside.PromptTokens + 2) / 3, before.Tokens + beside.PromptTokens), engine.Prefilled);
        await running.ResultAsync();
    }

    /// <summary>A seeded, sampled answer is the same alone and while other requests decode beside it.</summary>
    [Fact]
    public async Task ASeededAnswerDoesNotDependOnTheOtherRequests()
    {
        using var vlm = ServedModel.LoadApart();
        var image = ServedModel.Decoded(vlm, 0);
        var seeded = ServedModel.Turn([image], "What is in the image?") with { Options = new GenerationOptions { Temperature = 1.0, TopK = 0, TopP = 1.0, Seed = 7, MaxNewTokens = 12 } };
        using var engine = new ChatEngine(vlm, new ChatEngineOptions());
        var alone = (await engine.Submit(seeded).ResultAsync()).Choices[0].Text;
        var others = Enumerable.Range(0, 3).Select(i => engine.Submit(ServedModel.Turn([], $"Question {i}") with
            { Options = new GenerationOptions { Temperature = 1.0, Seed = 100 + i, MaxNewTokens = 20 } })).ToList();
        var beside = engine.Submit(seeded);
        Assert.Equal(alone, (await beside.ResultAsync()).Choices[0].Text);
        foreach (var o in others) await o.ResultAsync();
    }
}
