using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NanoVlm.Tests.Data;

namespace NanoVlm.Tests.Serving;

/// <summary>Hostile and wrong requests get a 4xx with an OpenAI-style JSON error of one line, and the server keeps answering.</summary>
[Collection(nameof(ServedModel))]
public class HostileRequestTests(ServedModel served)
{
    static string Png(int i) => "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(ServedModel.Image(i)));

    static string Request(JsonNode content, string extra = "") =>
        $$"""{"model":"{{ServedModel.ModelId}}","max_tokens":4,{{extra}}"messages":[{"role":"user","content":{{content.ToJsonString()}}}]}""";

    static string WithImage(string url) =>
        Request(new JsonArray(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } },
            new JsonObject { ["type"] = "text", ["text"] = "What is this?" }));

    static string Text(string extra) => Request(JsonValue.Create("What is this?"), extra);

    public static TheoryData<string, string, int, string> Cases() => new()
    {
        { "malformed JSON", "{bad", 400, "not valid JSON" },
        { "empty body", "", 400, "not valid JSON" },
        { "JSON 100 levels deep", new string('[', 100) + new string(']', 100), 400, "not valid JSON" },
        { "not an object", "[1, 2]", 400, "JSON object" },
        { "no model", """{"messages":[{"role":"user","content":"hi"}]}""", 400, "missing field 'model'" },
        { "unknown model", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", 404, "does not exist" },
        { "no messages", """{"model":"golden-v02"}""", 400, "'messages'" },
        { "empty messages", """{"model":"golden-v02","messages":[]}""", 400, "'messages'" },
        { "message not an object", """{"model":"golden-v02","messages":[1]}""", 400, "messages[0] must be an object" },
        { "unknown role", """{"model":"golden-v02","messages":[{"role":"tool","content":"x"}]}""", 400, "unsupported role 'tool'" },
        { "a lone UTF-16 surrogate", """{"model":"golden-v02","messages":[{"role":"user","content":"\ud800 hi"}]}""", 400, "'messages[0].content' is not valid text" },
        { "no content", """{"model":"golden-v02","messages":[{"role":"user"}]}""", 400, "missing field 'content'" },
        { "content a number", Request(JsonValue.Create(5)), 400, "must be a string or an array of parts" },
        { "unknown part type", Request(new JsonArray(new JsonObject { ["type"] = "input_audio" })), 400, "unsupported part type 'input_audio'" },
        { "last message not the user's", """{"model":"golden-v02","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}""", 400, "end with a user message" },
        { "remote image URL", WithImage("https://example.com/cat.png"), 400, "only data: URLs are accepted (got https)" },
        { "file URL", WithImage("file:///etc/passwd"), 400, "only data: URLs are accepted (got file)" },
        { "data URL without base64", WithImage("data:image/png,abc"), 400, "must be base64" },
        { "data URL of text", WithImage("data:text/plain;base64,aGVsbG8="), 400, "is not an image" },
        { "bad base64", WithImage("data:image/png;base64,@@not base64@@"), 400, "not valid base64" },
        { "bytes that are not an image", WithImage("data:image/png;base64," + Convert.ToBase64String("hello, world"u8.ToArray())), 400, "not a decodable image" },
        { "image bomb (100000 x 100000 header)", WithImage("data:image/png;base64," + Convert.ToBase64String(ImageBytes.PngHeader(100_000, 100_000))), 400, "100000x100000" },
        { "too many images", Request(new JsonArray([.. Enumerable.Range(0, 5).Select(i =>
            (JsonNode)new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = Png(i % 6) } })])), 400, "at most 4" },
        { "prompt over the context", Request(JsonValue.Create(string.Join(' ', Enumerable.Repeat("What is this?", 1000)))), 400, "exceeds the model's context" },
        { "body over the size limit", Text($"\"user\":\"{new string('x', 3 << 20)}\","), 413, "larger than" },
        { "negative max_tokens", Text("\"max_completion_tokens\":-5,"), 400, "max_tokens must be >= 1" },
        { "zero max_tokens", Text("\"max_completion_tokens\":0,"), 400, "max_tokens must be >= 1" },
        { "max_tokens past the context", Text("\"max_completion_tokens\":1000000,"), 400, "exceeds the model's context" },
        { "max_tokens past int", Text("\"max_completion_tokens\":1e12,"), 400, "must be an integer" },
        { "max_tokens a string", Text("\"max_completion_tokens\":\"10\","), 400, "must be an integer" },
        { "temperature out of range", Text("\"temperature\":7,"), 400, "temperature must be between 0 and 2" },
        { "top_p zero", Text("\"top_p\":0,"), 400, "top_p must be in (0, 1]" },
        { "frequency_penalty out of range", Text("\"frequency_penalty\":3,"), 400, "frequency_penalty must be between -2 and 2" },
        { "presence_penalty out of range", Text("\"presence_penalty\":-2.5,"), 400, "presence_penalty must be between -2 and 2" },
        { "n zero", Text("\"n\":0,"), 400, "n must be between 1 and 8" },
        { "n over the batch", Text("\"n\":100,"), 400, "n must be between 1 and 8" },
        { "five stop strings", Text("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"],"), 400, "at most 4 stop strings" },
        { "empty stop string", Text("\"stop\":\"\","), 400, "stop string is empty" },
        { "seed a string", Text("\"seed\":\"x\","), 400, "'seed' must be an integer" },
        { "stream a string", Text("\"stream\":\"yes\","), 400, "'stream' must be true or false" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Is_refused_with_an_OpenAI_error(string name, string body, int status, string problem)
    {
        using var http = served.Http();
        // Expect: 100-continue, as curl sends it for a large body: a body the server refuses by its length is then never sent
        // (without it, the client may still be writing when the server answers 413 and closes: a broken pipe, not an answer).
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"), Headers = { ExpectContinue = true },
        };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{name}: {(int)response.StatusCode} {text}");
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains(problem, message);
        Assert.DoesNotContain('\n', message);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_frees_its_place_in_the_batch()
    {
        using var http = served.Http();
        using var cancel = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(Text("\"stream\":true,\"temperature\":0,\"max_tokens\":1900,").Replace("\"max_tokens\":4,", ""),
                Encoding.UTF8, "application/json"),
        };
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            var contentChunks = 0;
            while (contentChunks < 3)
                if ((await reader.ReadLineAsync(cancel.Token))!.Contains("\"content\":\"") ) contentChunks++;
            Assert.Equal(1, served.Server.Engine.BatchSize);
            await cancel.CancelAsync();
        }
        await Until(() => served.Server.Engine.BatchSize == 0, "the abandoned row to leave the batch");
        await Until(() => served.Log.Any(l => l.Contains(" 499 stream")), "a log line for the closed request");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task A_full_queue_is_refused_with_503_and_retry_after()
    {
        await using var server = await NanoVlm.Server.VlmServer.StartAsync(served.Vlm,
            ServedModel.Limits with { Engine = new NanoVlm.Serving.ChatEngineOptions { MaxBatch = 1, MaxQueue = 1 } });
        using var http = new HttpClient { BaseAddress = server.Url };
        using var cancel = new CancellationTokenSource();
        var longBody = Text("\"stream\":true,\"temperature\":0,\"max_tokens\":1900,").Replace("\"max_tokens\":4,", "");
        using var running = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            { Content = new StringContent(longBody, Encoding.UTF8, "application/json") }, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        await Until(() => server.Engine.BatchSize == 1, "the first request to decode");
        var waiting = http.PostAsync("v1/chat/completions", new StringContent(Text(""), Encoding.UTF8, "application/json"));
        await Until(() => server.Engine.QueueLength == 1, "the second request to queue");

        using var refused = await http.PostAsync("v1/chat/completions", new StringContent(Text(""), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("server_busy", error.GetProperty("code").GetString());

        await cancel.CancelAsync();
        running.Dispose();
        using var answered = await waiting;
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    internal static async Task Until(Func<bool> condition, string what)
    {
        for (var waited = 0; !condition(); waited += 20)
        {
            if (waited > 20_000) throw new TimeoutException($"waited 20 s for {what}");
            await Task.Delay(20);
        }
    }
}
