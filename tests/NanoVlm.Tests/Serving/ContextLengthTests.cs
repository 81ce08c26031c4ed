using Microsoft.Extensions.AI;
using NanoVlm.Runtime;
using NanoVlm.Serving;

namespace NanoVlm.Tests.Serving;

/// <summary>A caller that asks for no length gets what the model's context leaves; a length that cannot fit is refused.</summary>
[Collection(nameof(RunsAlone))]
public sealed class ContextLengthTests
{
    [Fact]
    public async Task WithoutALengthTheAnswerMayUseWhatTheContextLeaves()
    {
        using var vlm = TestModels.Vlm(TestModels.Create(seed: 9));   // a context of 128 positions
        vlm.Model.eval();
        using IChatClient client = new VlmChatClient(vlm);
        var question = new ChatMessage(ChatRole.User, "hello");
        var response = await client.GetResponseAsync([question], new ChatOptions { Temperature = 0 });
        var prompt = response.Usage!.InputTokenCount!.Value;
        Assert.InRange(response.Usage.OutputTokenCount!.Value, 1, vlm.Config.LmMaxPositionEmbeddings - prompt);
        var streamed = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync([question], new ChatOptions { Temperature = 0 })) streamed.Add(update.Text);
        Assert.Equal(response.Text, string.Concat(streamed));

        var e = await Assert.ThrowsAsync<NanoVlmException>(() => client.GetResponseAsync([question], new ChatOptions { MaxOutputTokens = 500 }));
        Assert.Contains("exceeds the model's context of 128", e.Message);
    }

    /// <summary>A format without a system slot (Question/Answer) refuses a system message instead of dropping it.</summary>
    [Fact]
    public async Task ASystemMessageIsNeverDropped()
    {
        using var vlm = TestModels.Vlm(TestModels.Create(seed: 9));
        vlm.Model.eval();
        using IChatClient client = new VlmChatClient(vlm);
        var e = await Assert.ThrowsAsync<NanoVlmException>(() =>
            client.GetResponseAsync([new ChatMessage(ChatRole.System, "Answer in French."), new ChatMessage(ChatRole.User, "hello")], new ChatOptions { MaxOutputTokens = 2 }));
        Assert.Contains("has no place for a system message", e.Message);
    }
}
