using NanoVlm.Data;
using NanoVlm.Models;
using SkiaSharp;

namespace NanoVlm.Tests.Data;

public class CollatorTests
{
    static readonly VlmConfig Config = new() { MpImageTokenLength = 3, LmMaxLength = 64, VitImgSize = 8 };
    static readonly byte[] Png = ImageBytes.Encode(ImageBytes.Pattern(8, 8), 8, 8, SKEncodedImageFormat.Png);

    static VqaSample Sample(int images, params (string, string)[] turns) =>
        new(Enumerable.Range(0, images).Select(i => VqaImage.FromBytes(Png, $"img{i}")).ToArray(), turns.Select(t => new VqaTurn(t.Item1, t.Item2)).ToArray(), "test");

    [Theory]
    [InlineData("wordlevel")]
    [InlineData("qwen3")]
    public void TargetsAreExactlyTheAnswerTokensAndEos(string name)
    {
        using var tok = Tokenizer.Load(Fixture.Path(name), Fixture.ImageToken);
        var collator = new VlmProcessor(Config, tok);
        var sample = Sample(2, ("What is this?", "sneaker"), ("Is this footwear?", "yes"));
        var encoded = collator.EncodeForTraining(sample)!;
        var image = tok.ExtraTokenIds["image_token"];
        Assert.All(encoded.InputIds[..6], id => Assert.Equal(image, id));
        var targets = encoded.InputIds.Where((_, t) => encoded.IsTarget[t]).ToArray();
        var answers = tok.Decode(targets);
        // Qwen's pre-tokenizer glues the ':' to the answer's first letters, so the token straddling the boundary is a target too.
        Assert.Equal(name == "wordlevel" ? "sneaker <|endoftext|> yes <|endoftext|>" : ":sneaker<|im_end|>yes<|im_end|>", answers);
        var eos = tok.Decode([tok.EosTokenId]);
        Assert.Equal(tok.Encode($"<|image|><|image|><|image|><|image|><|image|><|image|>Question: What is this? Answer:sneaker{eos}Question: Is this footwear? Answer:yes{eos}"), encoded.InputIds);
        Assert.Equal(2, encoded.Images.Length);
        Assert.All(encoded.Images, i => Assert.Equal(new long[] { 1, 3, 8, 8 }, i.shape));

        using var batch = collator.Collate([encoded, collator.EncodeForTraining(Sample(1, ("What is this?", "bag")))!]);
        var t = (int)batch.InputIds.shape[1];
        Assert.Equal(encoded.InputIds.Length, t);
        Assert.Equal(new long[] { 3, 3, 8, 8 }, batch.Images.shape);
        var ids = batch.InputIds.data<long>().ToArray();
        var mask = batch.AttentionMask.data<long>().ToArray();
        var labels = batch.Labels.data<long>().ToArray();
        for (var i = 0; i < t - 1; i++)
            Assert.Equal(encoded.IsTarget[i + 1] ? ids[i + 1] : VlmProcessor.Ignore, labels[i]);
        Assert.Equal(VlmProcessor.Ignore, labels[t - 1]);
        var short2 = collator.EncodeForTraining(Sample(1, ("What is this?", "bag")))!.InputIds.Length;
        Assert.All(ids[t..(2 * t - short2)], id => Assert.Equal(tok.PadTokenId, id));
        Assert.All(mask[t..(2 * t - short2)], m => Assert.Equal(0, m));
        Assert.All(labels[t..(2 * t - short2)], l => Assert.Equal(VlmProcessor.Ignore, l));
        var bag = collator.EncodeForTraining(Sample(1, ("What is this?", "bag")))!;
        Assert.Equal(bag.InputIds.Where((_, i) => bag.IsTarget[i]), labels[t..].Where(l => l != VlmProcessor.Ignore).Select(l => (int)l));
        Assert.EndsWith("bag" + eos, tok.Decode(bag.InputIds.Where((_, i) => bag.IsTarget[i])).Replace(" ", ""));
    }

    [Fact]
    public void EvaluationPromptsAndSkips()
    {
        using var tok = Tokenizer.Load(Fixture.Path("qwen3"), Fixture.ImageToken);
        var collator = new VlmProcessor(Config, tok);
        var mmstar = Sample(1, ("Which one?", "B")) with { Style = PromptStyle.LetterChoice };
        var encoded = collator.EncodeForEvaluation(mmstar)!;
        Assert.Equal(tok.Encode("<|image|><|image|><|image|>Question: Which one? \nAnswer only with the letter! \nAnswer:"), encoded.InputIds);
        using var batch = collator.Collate([encoded], training: false);
        Assert.Equal(["B"], batch.Answers);

        Assert.Null(collator.EncodeForTraining(Sample(1, ("long " + string.Join(" ", Enumerable.Repeat("word", 80)), "x"))));
        var broken = new VqaSample([VqaImage.FromBytes([1, 2, 3], "broken")], [new VqaTurn("q", "a")], "test");
        Assert.Null(collator.EncodeForTraining(broken));
        Assert.Equal(2, collator.Skipped.Total);
    }

    [Fact]
    public void LoaderIsDeterministicAndSkipsBadSamples()
    {
        using var tok = Tokenizer.Load(Fixture.Path("wordlevel"), Fixture.ImageToken);
        var collator = new VlmProcessor(Config, tok);
        var samples = Enumerable.Range(0, 23).Select(i => i == 5
            ? new VqaSample([VqaImage.FromBytes([0], "bad")], [new VqaTurn("q", "a")], "bad")
            : Sample(1, ($"What is this? {i}", i % 2 == 0 ? "sneaker" : "bag"))).ToArray();
        string Run(int workers) => string.Join(";", VqaDataLoader.Batches(samples, s => collator.EncodeForTraining(s), b => collator.Collate(b), 4, workers)
            .Select(b => { using (b) return string.Join(",", b.Samples.Select(s => s.Turns[0].User)) + $"/{b.InputIds.shape[0]}"; }));
        var one = Run(1);
        Assert.Equal(one, Run(4));
        Assert.Equal(6, one.Split(';').Length);
        Assert.DoesNotContain("q,", one);
        using var cancel = new CancellationTokenSource();
        var batches = VqaDataLoader.Batches(samples, s => collator.EncodeForTraining(s), b => collator.Collate(b), 2, 2, cancel: cancel.Token);
        Assert.ThrowsAny<OperationCanceledException>(() => { foreach (var b in batches) { b.Dispose(); cancel.Cancel(); } });
    }

    /// <summary>
    /// A reader that stops early (a run at its last step) gets control back only once every sample in preparation is done: they use
    /// what the caller frees next (the tokenizer's native handle). Before, they ran on and the test host crashed now and then.
    /// </summary>
    [Fact]
    public void StoppingEarlyWaitsForTheSamplesInPreparation()
    {
        using var tok = Tokenizer.Load(Fixture.Path("wordlevel"), Fixture.ImageToken);
        var collator = new VlmProcessor(Config, tok);
        var samples = Enumerable.Range(0, 40).Select(i => Sample(1, ($"What is this? {i}", "bag"))).ToArray();
        var (begun, ended) = (0, 0);
        // The first four samples are ready at once; the others take a second.
        EncodedSample? Slow(VqaSample s)
        {
            if (Interlocked.Increment(ref begun) > 4) Thread.Sleep(1000);
            var encoded = collator.EncodeForTraining(s);
            Interlocked.Increment(ref ended);
            return encoded;
        }
        foreach (var (b, i) in VqaDataLoader.Batches(samples, Slow, b => collator.Collate(b), 2, workers: 2).Select((b, i) => (b, i)))
        {
            b.Dispose();
            if (i < 1) continue;
            SpinWait.SpinUntil(() => Volatile.Read(ref begun) > 4, TimeSpan.FromSeconds(10));
            break;
        }
        var started = Volatile.Read(ref begun);
        Assert.True(started > 4, $"only {started} samples were started: nothing was in preparation");
        Assert.Equal(started, Volatile.Read(ref ended));
    }
}
