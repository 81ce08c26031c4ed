// Seed is marked as an evaluation API in the OpenAI client.
#pragma warning disable OPENAI001
using System.Text.RegularExpressions;
using NanoVlm.Generation;
using OpenAI.Chat;
using OpenAI.Models;

namespace NanoVlm.Tests.Serving;

/// <summary>The API through the official OpenAI .NET client, pointed at the server on loopback.</summary>
[Collection(nameof(ServedModel))]
public class OpenAiApiTests(ServedModel served)
{
    static readonly ChatCompletionOptions Greedy12 = new() { Temperature = 0, MaxOutputTokenCount = 12 };

    /// <summary>The library's greedy answer, one request alone (the reference for the batched ones).</summary>
    string Alone(string prompt, int image, int tokens = 12) =>
        served.Vlm.Generate(prompt, [served.Vlm.Processor.Images.DecodeFile(ServedModel.Image(image))],
            new GenerationOptions { Greedy = true, MaxNewTokens = tokens });

    [Fact]
    public void Models_lists_the_served_model()
    {
        var models = new OpenAIModelClient(new System.ClientModel.ApiKeyCredential("unused"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(served.Server.Url, "v1") }).GetModels().Value;
        Assert.Equal([ServedModel.ModelId], models.Select(m => m.Id));
    }

    [Fact]
    public void The_greedy_answer_equals_nanovlm_generate_greedy_for_the_same_image_and_prompt()
    {
        var (code, output, error) = CliProcess.Run("generate", "--model", ServedModel.Folder, "--image", ServedModel.Image(0),
            "--prompt", "What is this?", "--greedy", "--generations", "1", "--max-new-tokens", "12", "--device", "cpu");
        Assert.True(code == 0, error);
        var generated = Regex.Match(output, "  >> Generation 1: (.*)").Groups[1].Value.TrimEnd();

        ChatCompletion answer = served.Chat().CompleteChat([ServedModel.Question("What is this?", 0)], Greedy12);
        Assert.Equal(generated, answer.Content[0].Text);
        Assert.NotEmpty(generated);
        Assert.Equal(ChatFinishReason.Length, answer.FinishReason);
        Assert.Equal(12, answer.Usage.OutputTokenCount);
        Assert.Equal(served.Vlm.Processor.EncodePrompt("What is this?", [served.Vlm.Processor.Images.DecodeFile(ServedModel.Image(0))])
            .InputIds.shape[1], answer.Usage.InputTokenCount);
        Assert.Equal(answer.Usage.InputTokenCount + 12, answer.Usage.TotalTokenCount);
    }

    [Fact]
    public void Streaming_sends_a_chunk_per_token_with_the_same_text_and_the_usage_last()
    {
        var client = served.Chat();
        var whole = client.CompleteChat([ServedModel.Question("Describe the image.", 1)], Greedy12).Value.Content[0].Text;
        var updates = client.CompleteChatStreaming([ServedModel.Question("Describe the image.", 1)], Greedy12).ToList();
        var texts = updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text).Where(t => t.Length > 0).ToList();
        Assert.Equal(whole, string.Concat(texts));
        Assert.Equal(12, texts.Count); // the word-level tokenizer: every token is a word
        Assert.Equal(ChatFinishReason.Length, updates.Single(u => u.FinishReason is not null).FinishReason);
        Assert.Equal(12, updates[^1].Usage.OutputTokenCount);
    }

    /// <summary>
    /// logprobs and top_logprobs in OpenAI's shape, read by its client: one entry per token with the token, its log-probability,
    /// its bytes and the most likely alternatives (greedy: the chosen token first); the same entries when streamed.
    /// </summary>
    [Fact]
    public void Logprobs_list_each_token_with_its_alternatives_streamed_or_not()
    {
        var client = served.Chat();
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion answer = client.CompleteChat([ServedModel.Question("What is this?", 0)], options);
        var tokens = answer.ContentTokenLogProbabilities;
        Assert.Equal(6, tokens.Count);
        // The golden model's word-level tokenizer decodes a text as its words with spaces between them.
        Assert.Equal(answer.Content[0].Text, string.Join(' ', tokens.Select(t => t.Token)));
        foreach (var t in tokens)
        {
            Assert.True(t.LogProbability <= 0);
            Assert.Equal(System.Text.Encoding.UTF8.GetBytes(t.Token), t.Utf8Bytes!.Value.ToArray());
            Assert.Equal(3, t.TopLogProbabilities.Count);
            Assert.Equal(t.Token, t.TopLogProbabilities[0].Token);   // greedy: the most likely token is the one chosen
            Assert.Equal(t.LogProbability, t.TopLogProbabilities[0].LogProbability, 6);
            Assert.True(t.TopLogProbabilities.Zip(t.TopLogProbabilities.Skip(1)).All(p => p.First.LogProbability >= p.Second.LogProbability));
        }
        var streamed = client.CompleteChatStreaming([ServedModel.Question("What is this?", 0)], options).ToList()
            .SelectMany(u => u.ContentTokenLogProbabilities).ToList();
        Assert.Equal(tokens.Select(t => (t.Token, t.LogProbability)), streamed.Select(t => (t.Token, t.LogProbability)));
        Assert.Null(client.CompleteChat([ServedModel.Question("What is this?", 0)], Greedy12).Value.ContentTokenLogProbabilities.FirstOrDefault());
    }

    [Fact]
    public async Task Concurrent_requests_are_batched_and_each_equals_its_answer_alone()
    {
        var prompts = Enumerable.Range(0, 8).Select(i => (Text: $"Question {i}: what is in image {i % 6}?", Image: i % 6)).ToList();
        var alone = prompts.Select(p => Alone(p.Text, p.Image, 40)).ToList();
        var client = served.Chat();
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 };
        var (steps, rows) = served.Server.Engine.Decoded;
        using var start = new ManualResetEventSlim();
        var requests = prompts.Select(p => Task.Run(async () =>
        {
            start.Wait();
            return (await client.CompleteChatAsync([ServedModel.Question(p.Text, p.Image)], options)).Value.Content[0].Text;
        })).ToList();
        start.Set();
        var answers = await Task.WhenAll(requests);
        Assert.Equal(alone, answers);
        var (steps2, rows2) = served.Server.Engine.Decoded;
        Assert.True(rows2 - rows > steps2 - steps, $"no step decoded two rows: {rows2 - rows} rows in {steps2 - steps} steps");
    }

    [Fact]
    public async Task Several_answers_are_seeded_one_after_another_and_stop_strings_end_an_answer()
    {
        var client = served.Chat();
        // n is not in the client's options: the raw request.
        using var http = served.Http();
        var two = await http.PostAsync("v1/chat/completions", Json(
            """{"model":"golden-v02","n":2,"seed":11,"temperature":1.5,"top_p":1,"max_tokens":8,"messages":[{"role":"user","content":"hello there"}]}"""));
        var body = System.Text.Json.JsonDocument.Parse(await two.Content.ReadAsStringAsync()).RootElement;
        var choices = body.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString()).ToList();
        Assert.Equal(2, choices.Count);
        var first = client.CompleteChat([new UserChatMessage("hello there")],
            new ChatCompletionOptions { Temperature = 1.5f, TopP = 1, Seed = 11, MaxOutputTokenCount = 8 }).Value.Content[0].Text;
        var second = client.CompleteChat([new UserChatMessage("hello there")],
            new ChatCompletionOptions { Temperature = 1.5f, TopP = 1, Seed = 12, MaxOutputTokenCount = 8 }).Value.Content[0].Text;
        Assert.Equal([first, second], choices);

        var greedy = client.CompleteChat([ServedModel.Question("What is this?", 2)], Greedy12).Value.Content[0].Text;
        var words = greedy.Split(' ');
        var stopAt = words[words.Length / 2];
        var stopped = client.CompleteChat([ServedModel.Question("What is this?", 2)],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12, StopSequences = { stopAt } }).Value;
        Assert.Equal(greedy[..greedy.IndexOf(stopAt, StringComparison.Ordinal)], stopped.Content.Count == 0 ? "" : stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
