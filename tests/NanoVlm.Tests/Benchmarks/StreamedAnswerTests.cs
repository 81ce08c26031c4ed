using System.Net;
using System.Text;
using NanoVlm.Benchmarks;

namespace NanoVlm.Tests.Benchmarks;

/// <summary>How bench serve reads a streamed answer: which chunks count as tokens for time to first token and the gaps between tokens.</summary>
public class StreamedAnswerTests
{
    sealed class Canned(string events) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(events, Encoding.UTF8, "text/event-stream") });
    }

    static string Chunk(string content, bool logprob) =>
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + content + "\"}"
        + (logprob ? ",\"logprobs\":{\"content\":[{\"token\":\"<x>\",\"logprob\":-1.5,\"bytes\":[],\"top_logprobs\":[]}]}" : "") + "}]}\n\n";

    [Fact]
    public async Task AChunkWithALogprobAndNoTextIsAToken()
    {
        // The role chunk, a token that shows no text (its log-probability only), a token with text, the usage.
        var events = Chunk("", false) + Chunk("", true) + Chunk("Hi", true)
            + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\ndata: [DONE]\n\n";
        using var http = new HttpClient(new Canned(events)) { BaseAddress = new Uri("http://127.0.0.1:1/") };
        var seen = new List<int>();
        var answer = await ServeBench.Request(http, "{}", seen.Add);
        Assert.Equal([1, 2], seen);
        Assert.Single(answer.Gaps);
        Assert.Equal(2, answer.Tokens);
        Assert.Equal("Hi", answer.Text);
    }

    [Fact]
    public async Task WithoutLogprobsOnlyChunksWithTextCount()
    {
        var events = Chunk("", false) + Chunk("", false) + Chunk("Hi", false) + "data: [DONE]\n\n";
        using var http = new HttpClient(new Canned(events)) { BaseAddress = new Uri("http://127.0.0.1:1/") };
        var seen = new List<int>();
        var answer = await ServeBench.Request(http, "{}", seen.Add);
        Assert.Equal([1], seen);
        Assert.Empty(answer.Gaps);
        Assert.Equal("Hi", answer.Text);
    }
}
