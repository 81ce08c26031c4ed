using Microsoft.Extensions.AI;
using NanoVlm.Generation;
using NanoVlm.Serving;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Serving;

/// <summary>The model through Microsoft.Extensions.AI's IChatClient, with no server.</summary>
[Collection(nameof(ServedModel))]
public class VlmChatClientTests(ServedModel served)
{
    static ChatMessage Question(string text, int image) =>
        new(ChatRole.User, [new DataContent(File.ReadAllBytes(ServedModel.Image(image)), "image/png"), new TextContent(text)]);

    [Fact]
    public async Task Answers_with_images_as_the_library_does_and_streams_the_same_text()
    {
        using IChatClient client = new VlmChatClient(served.Vlm, "golden");
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 10 };
        var expected = served.Vlm.Generate("What is this?", [served.Vlm.Processor.Images.DecodeFile(ServedModel.Image(3))],
            new GenerationOptions { Greedy = true, MaxNewTokens = 10 });

        var response = await client.GetResponseAsync([Question("What is this?", 3)], options);
        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(10, response.Usage!.OutputTokenCount);
        Assert.Equal("golden", response.ModelId);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync([Question("What is this?", 3)], options)) updates.Add(update);
        Assert.Equal(expected, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count(u => u.Text.Length > 0) > 1, "the text should arrive in pieces");
        Assert.Equal(10, updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details.OutputTokenCount);
    }

    [Fact]
    public async Task Concurrent_calls_and_stop_sequences_work()
    {
        using IChatClient client = new VlmChatClient(served.Vlm);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 10 };
        var alone = await client.GetResponseAsync([Question("Describe it.", 4)], options);
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.GetResponseAsync([Question("Describe it.", 4)], options)));
        Assert.All(together, r => Assert.Equal(alone.Text, r.Text));

        var stop = alone.Text.Split(' ')[2];
        var stopped = await client.GetResponseAsync([Question("Describe it.", 4)], new ChatOptions { Temperature = 0, MaxOutputTokens = 10, StopSequences = [stop] });
        Assert.Equal(alone.Text[..alone.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task Unsupported_content_and_roles_are_refused_with_one_line()
    {
        using IChatClient client = new VlmChatClient(served.Vlm);
        var uri = await Assert.ThrowsAsync<NanoVlmException>(() => client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, [new UriContent("https://example.com/a.png", "image/png")])]));
        Assert.Contains("UriContent", uri.Message);
        var role = await Assert.ThrowsAsync<NanoVlmException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.Tool, "x")]));
        Assert.Contains("unsupported role 'tool'", role.Message);
        Assert.NotNull(client.GetService<ChatClientMetadata>());
    }
}
