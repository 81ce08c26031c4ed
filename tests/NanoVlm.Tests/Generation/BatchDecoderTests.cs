using NanoVlm.Generation;
using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Generation;

public class BatchDecoderTests
{
    static readonly GenerationOptions Greedy = new() { MaxNewTokens = 10, Greedy = true, StopAtEos = false };

    /// <summary>Prompt r of a left-padded batch as a batch of one (its padding dropped).</summary>
    static (Tensor Ids, Tensor? Images) Row(VisionLanguageModel model, int[] imagesPerRow, int[] textPerRow, int r)
    {
        var (ids, mask, images) = TestModels.Batch(model, imagesPerRow, textPerRow);
        var real = ids[r][mask[r].to(ScalarType.Bool)].unsqueeze(0);
        var first = imagesPerRow.Take(r).Sum();
        return (real, imagesPerRow[r] == 0 ? null : images![first..(first + imagesPerRow[r])]);
    }

    static long[] Alone(VisionLanguageModel model, (Tensor Ids, Tensor? Images) prompt, GenerationOptions options) =>
        model.Generate(prompt.Ids, prompt.Images, null, options)[0].data<long>().ToArray();

    /// <summary>As <see cref="TextGeneration.Generate"/> returns them: everything after the first eos is eos.</summary>
    static long[] AsGenerated(VisionLanguageModel model, List<long> tokens) =>
        tokens.Select((t, i) => tokens.Take(i).Contains(model.EosTokenId) ? model.EosTokenId : t).ToArray();

    /// <summary>Steps until every row has left; each row's tokens in order.</summary>
    static Dictionary<long, List<long>> Drain(BatchDecoder decoder, Dictionary<long, List<long>> tokens, int maxSteps = int.MaxValue)
    {
        for (var s = 0; s < maxSteps && decoder.Count > 0; s++)
            foreach (var t in decoder.Step())
                tokens[t.Row].Add(t.Token);
        return tokens;
    }

    [Fact]
    public void Rows_joining_at_different_steps_decode_what_they_would_alone()
    {
        using var model = TestModels.Create();
        int[] images = [1, 0, 2], text = [5, 9, 3];
        var prompts = Enumerable.Range(0, 3).Select(r => Row(model, images, text, r)).ToList();
        using var decoder = new BatchDecoder(model);
        var tokens = new Dictionary<long, List<long>>();
        var ids = new long[3];
        ids[0] = decoder.Join(prompts[0].Ids, prompts[0].Images, null, [Greedy])[0];
        tokens[ids[0]] = [];
        Drain(decoder, tokens, maxSteps: 3);
        ids[1] = decoder.Join(prompts[1].Ids, prompts[1].Images, null, [Greedy with { MaxNewTokens = 4 }])[0];
        tokens[ids[1]] = [];
        Drain(decoder, tokens, maxSteps: 2);
        ids[2] = decoder.Join(prompts[2].Ids, prompts[2].Images, null, [Greedy])[0];
        tokens[ids[2]] = [];
        Drain(decoder, tokens);

        Assert.Equal(Alone(model, prompts[0], Greedy), AsGenerated(model, tokens[ids[0]]));
        Assert.Equal(Alone(model, prompts[1], Greedy with { MaxNewTokens = 4 }), AsGenerated(model, tokens[ids[1]]));
        Assert.Equal(Alone(model, prompts[2], Greedy), AsGenerated(model, tokens[ids[2]]));
    }

    /// <summary>
    /// A row whose scores turn NaN, and one whose temperature would overflow the scores (1e-40), leave with a reason or sample greedily;
    /// the healthy row beside them decodes what it would alone.
    /// </summary>
    [Fact]
    public void A_poisoned_row_leaves_alone_and_a_vanishing_temperature_is_greedy()
    {
        using var model = TestModels.Create();
        model.eval();
        int[] images = [1, 0, 1], text = [5, 9, 3];
        var healthy = Row(model, images, text, 1);
        var expected = Alone(model, healthy, Greedy);
        var greedyOfTiny = Alone(model, Row(model, images, text, 2), Greedy);
        using var decoder = new BatchDecoder(model, DecodePath.Modules);
        var poisoned = decoder.Join(Row(model, images, text, 0).Ids, Row(model, images, text, 0).Images, null, [Greedy])[0];
        var ok = decoder.Join(healthy.Ids, healthy.Images, null, [Greedy])[0];
        var tiny = decoder.Join(Row(model, images, text, 2).Ids, Row(model, images, text, 2).Images, null, [Greedy with { Greedy = false, Temperature = 1e-40 }])[0];
        // From now on the head's scores of the first row (the poisoned request) are NaN.
        var hook = model.Decoder.head.register_forward_hook((_, _, y) =>
        {
            if (y.shape[0] == 3) y[0].fill_(double.NaN);
            return y;
        });
        var tokens = new Dictionary<long, List<long>> { [poisoned] = [], [ok] = [], [tiny] = [] };
        string? error = null;
        for (var s = 0; s < 20 && decoder.Count > 0; s++)
            foreach (var t in decoder.Step())
            {
                if (t.Error is not null) (error, tokens[t.Row]) = (t.Error, tokens[t.Row]);
                else tokens[t.Row].Add(t.Token);
            }
        hook.remove();
        Assert.Contains("not finite", error);
        Assert.Empty(tokens[poisoned].Skip(1));
        Assert.Equal(expected, tokens[ok].ToArray());
        Assert.Equal(greedyOfTiny, tokens[tiny].ToArray());
    }

    /// <summary>
    /// Rows come and go for many steps, so newcomers join the batch cache in place (into slots departed rows used) and leaving rows
    /// are replaced by the last one: every answer is still what its prompt gives alone, on both decode paths.
    /// </summary>
    [Theory]
    [InlineData(DecodePath.Modules)]
    [InlineData(DecodePath.Auto)]
    public void Rows_coming_and_going_in_place_decode_what_they_would_alone(DecodePath path)
    {
        using var model = TestModels.Create(seed: 4);
        model.eval();
        int[] images = [1, 0, 2, 0, 1, 0], text = [3, 2, 4, 3, 2, 5];
        var prompts = Enumerable.Range(0, images.Length).Select(r => Row(model, images, text, r)).ToList();
        int[] lengths = [9, 3, 6, 2, 7, 4, 5, 3];
        using var decoder = new BatchDecoder(model, path, maxRows: 4);
        var tokens = new Dictionary<long, List<long>>();
        var asked = new Dictionary<long, (int Prompt, int Length)>();
        for (var i = 0; i < lengths.Length; i++)
        {
            var p = i % prompts.Count;
            var row = decoder.Join(prompts[p].Ids, prompts[p].Images, null, [Greedy with { MaxNewTokens = lengths[i] }])[0];
            (tokens[row], asked[row]) = ([], (p, lengths[i]));
            Drain(decoder, tokens, maxSteps: 1 + i % 3);
        }
        Drain(decoder, tokens);
        foreach (var (row, (p, length)) in asked)
            Assert.Equal(Alone(model, prompts[p], Greedy with { MaxNewTokens = length }), AsGenerated(model, tokens[row]));
    }

    /// <summary>A finished answer's cache is kept: the next turn, which sends the answer back, prefills only what follows it.</summary>
    [Fact]
    public void A_finished_answer_is_kept_for_the_prompt_that_sends_it_back()
    {
        using var model = TestModels.Create(seed: 5);
        model.eval();
        var prompt = Row(model, [0], [6], 0);
        var key = prompt.Ids.data<long>().ToArray();
        using var prefixes = new PrefixCache(1L << 30);
        using var decoder = new BatchDecoder(model);
        var row = decoder.Join(prompt.Ids, null, null, [Greedy with { MaxNewTokens = 5 }], null, prefixes, key)[0];
        var answer = Drain(decoder, new() { [row] = [] })[row];

        long[] next = [.. key, .. answer, 3, 4];
        using var nextIds = tensor(next).unsqueeze(0);
        var again = decoder.Join(nextIds, null, null, [Greedy], null, prefixes, next)[0];
        Assert.Equal(key.Length + answer.Count - 1, decoder.LastReused); // the last token was sampled, never fed
        Assert.Equal(Alone(model, (nextIds, null), Greedy), AsGenerated(model, Drain(decoder, new() { [again] = [] })[again]));
    }

    [Fact]
    public void A_row_dropped_by_the_caller_leaves_the_others_unchanged()
    {
        using var model = TestModels.Create(seed: 1);
        var a = Row(model, [1, 1], [4, 6], 0);
        var b = Row(model, [1, 1], [4, 6], 1);
        using var decoder = new BatchDecoder(model);
        var rowA = decoder.Join(a.Ids, a.Images, null, [Greedy])[0];
        var rowB = decoder.Join(b.Ids, b.Images, null, [Greedy])[0];
        var tokens = new Dictionary<long, List<long>> { [rowA] = [], [rowB] = [] };
        Drain(decoder, tokens, maxSteps: 2);
        decoder.Leave(new HashSet<long> { rowA });
        Assert.Equal(1, decoder.Count);
        Drain(decoder, tokens);
        Assert.Equal(Alone(model, b, Greedy), AsGenerated(model, tokens[rowB]));
        Assert.Equal(2, tokens[rowA].Count);
    }

    [Fact]
    public void Several_answers_share_a_prefill_and_sample_with_their_own_seeds()
    {
        using var model = TestModels.Create(seed: 2);
        var prompt = Row(model, [1], [5], 0);
        var sampled = new GenerationOptions { MaxNewTokens = 8, StopAtEos = false, Temperature = 2.0, TopK = 0, TopP = 1.0 };
        using var decoder = new BatchDecoder(model);
        var rows = decoder.Join(prompt.Ids, prompt.Images, null, [sampled with { Seed = 5 }, sampled with { Seed = 6 }, Greedy]);
        var tokens = Drain(decoder, rows.ToDictionary(r => r, _ => new List<long>()));
        Assert.Equal(Alone(model, prompt, sampled with { Seed = 5 }), AsGenerated(model, tokens[rows[0]]));
        Assert.Equal(Alone(model, prompt, sampled with { Seed = 6 }), AsGenerated(model, tokens[rows[1]]));
        Assert.Equal(Alone(model, prompt, Greedy), AsGenerated(model, tokens[rows[2]]));
        Assert.NotEqual(tokens[rows[0]], tokens[rows[1]]);
    }

    [Fact]
    public void A_row_leaves_at_eos_and_reports_it_finished()
    {
        using var model = TestModels.Create(seed: 3);
        var prompt = Row(model, [1], [4], 0);
        var hot = new GenerationOptions { MaxNewTokens = 200, TopK = 0, TopP = 1.0, Temperature = 10.0, Seed = 7 };
        using var decoder = new BatchDecoder(model);
        var row = decoder.Join(prompt.Ids, prompt.Images, null, [hot])[0];
        var steps = new List<DecodedToken>();
        while (decoder.Count > 0) steps.AddRange(decoder.Step());
        Assert.True(steps.Count < 200);
        Assert.Equal(model.EosTokenId, steps[^1].Token);
        Assert.True(steps[^1].Finished);
        Assert.All(steps[..^1], s => Assert.False(s.Finished));
        Assert.Equal(row, steps[^1].Row);
        var alone = Alone(model, prompt, hot);
        Assert.Equal(alone[..steps.Count], steps.Select(s => s.Token).ToArray());
    }
}
