using NanoVlm.Generation;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Models;

/// <summary>
/// The same values in other memory layouts (transposed, strided, channels-last) give the same results: no code path
/// may assume contiguous inputs (a <c>view</c> on a strided tensor fails; CUDA kernels return other layouts than CPU).
/// </summary>
[Collection(nameof(RunsAlone))]
public class NonContiguousInputTests
{
    /// <summary>[B, T] with the same values, stored column-major.</summary>
    static Tensor Transposed(Tensor x) => x.t().contiguous().t();

    /// <summary>Every other element of a wider tensor: the same values with a stride of 2 along the last dimension.</summary>
    static Tensor Strided(Tensor x) => stack([x, zeros_like(x)], -1).select(-1, 0);

    /// <summary>[B, 3, S, S] stored as [B, S, S, 3].</summary>
    static Tensor ChannelsLast(Tensor images) => images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    [Fact]
    public void ForwardAndBackwardDoNotDependOnTheInputLayout()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [2, 0, 1], [3, 7, 5]);
        var targets = ids.roll(-1, 1);
        var odd = (Ids: Transposed(ids), Mask: Strided(mask), Images: ChannelsLast(images!), Targets: Transposed(targets));
        Assert.False(odd.Ids.is_contiguous() || odd.Mask.is_contiguous() || odd.Images.is_contiguous() || odd.Targets.is_contiguous());

        var (expectedLogits, expectedLoss, expectedGrads) = ForwardBackward(model, ids, mask, images!, targets);
        var (logits, loss, grads) = ForwardBackward(model, odd.Ids, odd.Mask, odd.Images, odd.Targets);
        AssertClose(expectedLogits, logits, "logits");
        AssertClose(expectedLoss, loss, "loss");
        foreach (var (name, grad) in expectedGrads) AssertClose(grad, grads[name], $"gradient of {name}");
    }

    [Fact]
    public void GenerationDoesNotDependOnTheInputLayout()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1, 2], [6, 2]);
        var options = new GenerationOptions { MaxNewTokens = 10, Greedy = true, StopAtEos = false };
        foreach (var cache in new[] { true, false })
        {
            var expected = model.Generate(ids, images, mask, options with { UseKvCache = cache });
            var actual = model.Generate(Transposed(ids), ChannelsLast(images!), Strided(mask), options with { UseKvCache = cache });
            Assert.True(expected.eq(actual).all().item<bool>(), $"generated ids differ (KV cache {cache})");
        }
    }

    [Fact]
    public void SlicedPromptEqualsTheSamePromptCopied()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.Create();
        var (ids, mask, images) = TestModels.Batch(model, [1, 1], [5, 5]);
        var longer = cat([ids, ids], 1);
        var sliced = longer[.., ..(int)ids.shape[1]];
        Assert.False(sliced.is_contiguous());
        var options = new GenerationOptions { MaxNewTokens = 6, Greedy = true };
        Assert.True(model.Generate(ids, images, mask, options).eq(model.Generate(sliced, images, mask, options)).all().item<bool>());
    }

    static (Tensor Logits, Tensor Loss, Dictionary<string, Tensor> Grads) ForwardBackward(
        NanoVlm.Models.VisionLanguageModel model, Tensor ids, Tensor mask, Tensor images, Tensor targets)
    {
        model.zero_grad();
        var (logits, loss) = model.forward(ids, images, mask, targets);
        loss!.backward();
        var grads = model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        return (logits.detach(), loss.detach(), grads);
    }

    static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var error = (expected - actual).abs().max().item<float>();
        Assert.True(error <= 1e-5, $"{what}: max abs difference {error}");
    }
}
