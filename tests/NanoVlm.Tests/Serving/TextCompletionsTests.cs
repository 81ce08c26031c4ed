using System.Text;
using System.Text.Json.Nodes;
using NanoVlm.Generation;

namespace NanoVlm.Tests.Serving;

/// <summary>
/// <c>POST /v1/completions</c>: a plain prompt, no chat template, answered as the model continues that text (the same greedy tokens
/// as the library's generation from the same ids), in OpenAI's legacy shape, streamed or not.
/// </summary>
[Collection(nameof(ServedModel))]
public class TextCompletionsTests(ServedModel served)
{
    const string Prompt = "w5 w6 w7 w8";

    async Task<(int Status, JsonNode Body)> Post(string json)
    {
        using var http = served.Http();
        using var response = await http.PostAsync("v1/completions", new StringContent(json, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task APlainPromptIsContinuedAsTheLibraryContinuesIt()
    {
        var (status, body) = await Post($$"""{"model": "{{ServedModel.ModelId}}", "prompt": "{{Prompt}}", "max_tokens": 6, "temperature": 0, "logprobs": 2}""");
        Assert.Equal(200, status);
        Assert.Equal("text_completion", (string)body["object"]!);
        Assert.StartsWith("cmpl-", (string)body["id"]!);
        var choice = body["choices"]![0]!;
        using var batch = served.Vlm.Processor.EncodeText(Prompt);
        using var ids = served.Vlm.Model.Generate(batch.InputIds, null, batch.AttentionMask, new GenerationOptions { Greedy = true, MaxNewTokens = 6 });
        Assert.Equal(served.Vlm.Processor.DecodeAnswer(ids[0]), (string)choice["text"]!);
        Assert.Equal(batch.InputIds.shape[1], (long)body["usage"]!["prompt_tokens"]!);
        var logprobs = choice["logprobs"]!;
        var tokens = logprobs["tokens"]!.AsArray();
        Assert.Equal((int)body["usage"]!["completion_tokens"]!, tokens.Count);
        Assert.Equal(tokens.Count, logprobs["token_logprobs"]!.AsArray().Count);
        Assert.All(logprobs["top_logprobs"]!.AsArray(), top => Assert.Equal(2, top!.AsObject().Count));
        Assert.Equal(0, (int)logprobs["text_offset"]![0]!);

        using var http = served.Http();
        using var response = await http.PostAsync("v1/completions", new StringContent(
            $$"""{"model": "{{ServedModel.ModelId}}", "prompt": ["{{Prompt}}"], "max_tokens": 6, "temperature": 0, "stream": true}""", Encoding.UTF8, "application/json"));
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonNode.Parse(l[6..])!).ToList();
        Assert.Equal((string)choice["text"]!, string.Concat(lines.Select(l => (string)l["choices"]![0]!["text"]!)).Trim());
        Assert.All(lines, l => Assert.Equal("text_completion", (string)l["object"]!));
    }

    /// <summary>
    /// Streamed with logprobs, every token's log-probability arrives, also a token that shows no text (the golden model answers this
    /// prompt with special tokens, which the text leaves out).
    /// </summary>
    [Fact]
    public async Task AStreamWithLogprobsListsEveryTokenAlsoOneWithoutText()
    {
        var (_, body) = await Post($$"""{"model": "{{ServedModel.ModelId}}", "prompt": "{{Prompt}}", "max_tokens": 6, "temperature": 0, "logprobs": 1}""");
        var expected = body["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.Equal(6, expected.Count);
        using var http = served.Http();
        using var response = await http.PostAsync("v1/completions", new StringContent(
            $$"""{"model": "{{ServedModel.ModelId}}", "prompt": "{{Prompt}}", "max_tokens": 6, "temperature": 0, "logprobs": 1, "stream": true}""",
            Encoding.UTF8, "application/json"));
        var chunks = (await response.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonNode.Parse(l[6..])!["choices"]?[0]).OfType<JsonNode>().ToList();
        Assert.Equal(expected, chunks.SelectMany(c => c["logprobs"]?["tokens"]?.AsArray().Select(t => (string)t!) ?? []));
        Assert.Equal((string)body["choices"]![0]!["text"]!, string.Concat(chunks.Select(c => (string?)c["text"] ?? "")));
    }

    [Theory]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"prompt\": \"x\"", "messages")]
    [InlineData("\"prompt\": [\"a\", \"b\"]", "prompt")]
    [InlineData("\"prompt\": 5", "prompt")]
    [InlineData("\"max_tokens\": 4", "prompt")]
    [InlineData("\"prompt\": \"x\", \"logprobs\": 6", "logprobs")]
    public async Task BadRequestsNameTheField(string fields, string param)
    {
        var (status, body) = await Post($$"""{"model": "{{ServedModel.ModelId}}", {{fields}}}""");
        Assert.Equal(400, status);
        Assert.Equal(param, (string)body["error"]!["param"]!);
    }

    [Fact]
    public async Task MaxTokensDefaultsToSixteen()
    {
        var (status, body) = await Post($$"""{"model": "{{ServedModel.ModelId}}", "prompt": "{{Prompt}}", "temperature": 0}""");
        Assert.Equal(200, status);
        Assert.InRange((int)body["usage"]!["completion_tokens"]!, 1, 16);
    }
}
