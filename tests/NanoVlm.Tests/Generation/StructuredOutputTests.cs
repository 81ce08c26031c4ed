using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Generation.Structured;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;
using NanoVlm.Server;
using NanoVlm.Serving;
using Xunit.Abstractions;

namespace NanoVlm.Tests.Generation;

/// <summary>
/// Structured output (OpenAI's <c>response_format</c>): an untrained model held to a schema answers JSON that parses and validates,
/// greedy or sampled, in generate, in the serving batch, through HTTP and through <see cref="IChatClient"/>; a schema it cannot
/// enforce is a 400 naming the keyword. The answers are checked by <see cref="Validates"/>, written apart from the grammar.
/// </summary>
[Collection(nameof(RunsAlone))]
public class StructuredOutputTests(ITestOutputHelper output)
{
    const string Catalog = """
        {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "label": {"enum": ["abc", "ab", "n/a"]}, "count": {"type": "integer"}, "price": {"type": "number"}},
                "required": ["label", "count"]}, "minItems": 1, "maxItems": 3},
            "open": {"type": "boolean"},
            "note": {"type": ["string", "null"], "maxLength": 12},
            "kind": {"const": "shop"}},
          "required": ["items", "open", "kind"]}
        """;

    static readonly string[] Schemas = [JsonStateTests.Person, Catalog, """{"type": "array", "items": {"type": "integer"}, "maxItems": 4}"""];

    // Loaded once (with its trie) for the cases below; kept for the test run.
    static readonly Lazy<Tokenizer> Qwen3 = new(() => Tokenizer.Load(Tests.Data.Fixture.Path("qwen3")));

    static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void GenerateHoldsAnUntrainedModelToEachSchemaGreedyAndSampled()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 4);
        foreach (var schemaJson in Schemas)
        {
            var schema = Parse(schemaJson);
            var constraint = JsonConstraint.For(JsonSchemaReader.Read(schema), vlm.Tokenizer);
            foreach (var options in new[]
            {
                new GenerationOptions { Greedy = true, MaxNewTokens = 120, Json = constraint },
                new GenerationOptions { MaxNewTokens = 120, Temperature = 1.5, TopK = 0, TopP = 1, Seed = 9, Json = constraint },
            })
            {
                using var batch = vlm.Processor.EncodeChat([new PromptMessage("user", "describe")], []);
                using var ids = vlm.Model.Generate(batch.InputIds, null, batch.AttentionMask, options);
                var answer = vlm.Processor.DecodeAnswer(ids[0]);
                output.WriteLine(answer);
                Assert.True(Validates(Parse(answer), schema), $"{answer} against {schemaJson}");
            }
        }
    }

    [Theory]
    [InlineData("", 200)]
    [InlineData("", 0)]
    [InlineData("{\"name\":\"", 200)]
    [InlineData("{\"name\":\"", 0)]
    [InlineData("{\"name\":\"Zo", 3)]
    [InlineData("{\"name\":\"Ann\",\"age\":12", 200)]
    [InlineData("{\"name\":\"Ann\",\"age\":12,\"nickname\":\"a\\", 200)]
    [InlineData("{\"name\":\"Ann\",\"age\":12,\"nickname\":\"", 1)]
    [InlineData("{\"name\":\"Ann\",\"age\":12,\"tags\":[7],\"address\":{\"city\":\"", 0)]
    public void TheAllowedTokensAreThoseWhoseBytesTheGrammarTakesInTime(string prefix, int spare)
    {
        // Checked token by token against the grammar on a real vocabulary (Qwen3's 151k byte-level tokens), strings' shortcut included.
        var tokenizer = Qwen3.Value;
        var schema = JsonSchemaReader.Read(Parse(JsonStateTests.Person));
        var cursor = JsonConstraint.For(schema, tokenizer).Start();
        foreach (var id in tokenizer.Encode(prefix)) cursor.Accept(id);
        var state = JsonState.Start(schema).Advance(Encoding.UTF8.GetBytes(prefix))!;
        var tokens = state.Cost + 1 + spare;
        var expected = Enumerable.Range(0, tokenizer.VocabSize).Where(id => !tokenizer.SpecialTokenIds.Contains(id)
            && tokenizer.TokenBytes(id) is { Length: > 0 } bytes && state.Advance(bytes) is { } next && next.Cost <= tokens - 1).ToHashSet();
        var allowed = cursor.Allowed(tokens);
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Order(), allowed.Order());
    }

    [Fact]
    public void WithoutTheSchemaTheSameModelWritesNoJson()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 4);
        using var batch = vlm.Processor.EncodeChat([new PromptMessage("user", "describe")], []);
        using var ids = vlm.Model.Generate(batch.InputIds, null, batch.AttentionMask, new GenerationOptions { Greedy = true, MaxNewTokens = 40 });
        var answer = vlm.Processor.DecodeAnswer(ids[0]);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(answer));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8)]
    public async Task AnAnswerWithFewTokensToSpareStillCloses(int spare)
    {
        // The shortest answer is the schema's byte cost; with a few tokens more the answer must close in time, whatever it samples.
        using var vlm = TestModels.ByteLevelVlm(seed: 2);
        var schema = Parse(Catalog);
        var read = JsonSchemaReader.Read(schema);
        using var engine = new ChatEngine(vlm);
        for (var seed = 0; seed < 4; seed++)
        {
            var options = new GenerationOptions { MaxNewTokens = read.MinBytes + spare, Temperature = 2, TopK = 0, TopP = 1, Seed = seed };
            var job = engine.Submit(new ChatRequest([new PromptMessage("user", "go")], [], options) { ResponseFormat = read });
            var (text, finish) = (await job.ResultAsync()).Choices[0];
            Assert.True(Validates(Parse(text), schema), $"{text} ({finish}) in {options.MaxNewTokens} tokens");
        }
    }

    [Fact]
    public async Task TheServingBatchGivesGenerateTheSameGreedyAnswersBesideFreeRequests()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 4);
        using var engine = new ChatEngine(vlm);
        var schema = JsonSchemaReader.Read(Parse(Catalog));
        var options = new GenerationOptions { Greedy = true, MaxNewTokens = 80 };
        ChatRequest Ask(string text, JsonSchema? format) => new([new PromptMessage("user", text)], [], options) { ResponseFormat = format };
        var jobs = new[] { Ask("one", schema), Ask("two", null), Ask("three", JsonSchema.AnyObject), Ask("four", schema) }.Select(r => engine.Submit(r)).ToList();
        var answers = (await Task.WhenAll(jobs.Select(j => j.ResultAsync()))).Select(r => r.Choices[0].Text).ToList();
        foreach (var (text, i) in new[] { ("one", 0), ("three", 2), ("four", 3) })
        {
            using var batch = vlm.Processor.EncodeChat([new PromptMessage("user", text)], []);
            var json = i == 2 ? JsonSchema.AnyObject : schema;
            using var ids = vlm.Model.Generate(batch.InputIds, null, batch.AttentionMask, options with { Json = JsonConstraint.For(json, vlm.Tokenizer) });
            Assert.Equal(vlm.Processor.DecodeAnswer(ids[0]), answers[i]);
        }
        Assert.Equal(JsonValueKind.Object, Parse(answers[2]).ValueKind);
    }

    [Fact]
    public async Task TheServerEnforcesResponseFormatAndRefusesWhatItCannotEnforce()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 4);
        await using var server = await VlmServer.StartAsync(vlm, new ServerOptions { Port = 0, ModelId = "bpe" });
        using var http = new HttpClient { BaseAddress = server.Url };
        async Task<(int, JsonNode)> Post(string format)
        {
            using var response = await http.PostAsync("v1/chat/completions", new StringContent(
                $$"""{"model": "bpe", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, "response_format": {{format}}}""",
                Encoding.UTF8, "application/json"));
            return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
        }

        var (status, body) = await Post($$$"""{"type": "json_schema", "json_schema": {"name": "catalog", "strict": true, "schema": {{{Catalog}}}}}""");
        Assert.Equal(200, status);
        Assert.True(Validates(Parse((string)body["choices"]![0]!["message"]!["content"]!), Parse(Catalog)), body.ToJsonString());
        (status, body) = await Post("""{"type": "json_object"}""");
        Assert.Equal(200, status);
        Assert.Equal(JsonValueKind.Object, Parse((string)body["choices"]![0]!["message"]!["content"]!).ValueKind);
        using (var completion = await http.PostAsync("v1/completions", new StringContent(
            """{"model": "bpe", "prompt": "a list:", "max_tokens": 60, "response_format": {"type": "json_object"}}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(200, (int)completion.StatusCode);
            var text = (string)JsonNode.Parse(await completion.Content.ReadAsStringAsync())!["choices"]![0]!["text"]!;
            Assert.Equal(JsonValueKind.Object, Parse(text).ValueKind);
        }

        foreach (var (format, param, words) in new[]
        {
            ("""{"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "format": "email"}}}""", "response_format.json_schema.schema", "'format'"),
            ("""{"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"oneOf": []}}}}}""", "response_format.json_schema.schema", "'oneOf', which structured output does not support (at schema.properties.a)"),
            ("""{"type": "json_schema", "json_schema": {"name": "x"}}""", "response_format.json_schema.schema", "missing"),
            ("""{"type": "yaml"}""", "response_format.type", "'yaml'"),
            ("\"json\"", "response_format", "must be an object"),
        })
        {
            (status, body) = await Post(format);
            Assert.Equal(400, status);
            Assert.Equal(param, (string)body["error"]!["param"]!);
            Assert.Contains(words, (string)body["error"]!["message"]!);
        }
    }

    [Fact]
    public async Task AModelWhoseTokensDoNotSpellBytesRefusesJsonByName()
    {
        using var vlm = Tests.Serving.ServedModel.LoadApart();
        using var client = new VlmChatClient(vlm);
        var e = await Assert.ThrowsAsync<NanoVlmException>(() => client.GetResponseAsync("hi", new ChatOptions { ResponseFormat = ChatResponseFormat.Json }));
        Assert.Equal("ResponseFormat", e.Parameter);
        Assert.Contains("byte-level BPE", e.Message);
    }

    [Fact]
    public async Task AChatClientAsksForJsonThroughChatOptions()
    {
        using var vlm = TestModels.ByteLevelVlm(seed: 6);
        using var client = new VlmChatClient(vlm);
        var schema = Parse(Catalog);
        var response = await client.GetResponseAsync("list", new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "catalog"), MaxOutputTokens = 100, Temperature = 1, Seed = 3,
        });
        Assert.True(Validates(Parse(response.Text), schema), response.Text);
    }

    /// <summary>Whether <paramref name="value"/> is valid against <paramref name="schema"/> (the keywords structured output takes).</summary>
    static bool Validates(JsonElement value, JsonElement schema)
    {
        if (schema.TryGetProperty("const", out var constant)) return JsonNode.DeepEquals(JsonNode.Parse(value.GetRawText()), JsonNode.Parse(constant.GetRawText()));
        if (schema.TryGetProperty("enum", out var values))
            return values.EnumerateArray().Any(v => JsonNode.DeepEquals(JsonNode.Parse(value.GetRawText()), JsonNode.Parse(v.GetRawText())));
        var types = !schema.TryGetProperty("type", out var type) ? null
            : type.ValueKind == JsonValueKind.String ? [type.GetString()!] : type.EnumerateArray().Select(t => t.GetString()!).ToArray();
        return types is null || types.Any(t => t switch
        {
            "object" => value.ValueKind == JsonValueKind.Object && ObjectValidates(value, schema),
            "array" => value.ValueKind == JsonValueKind.Array
                && value.GetArrayLength() >= (schema.TryGetProperty("minItems", out var min) ? min.GetInt32() : 0)
                && value.GetArrayLength() <= (schema.TryGetProperty("maxItems", out var max) ? max.GetInt32() : int.MaxValue)
                && (!schema.TryGetProperty("items", out var items) || value.EnumerateArray().All(v => Validates(v, items))),
            "string" => value.ValueKind == JsonValueKind.String
                && value.GetString()!.EnumerateRunes().Count() is var n
                && n >= (schema.TryGetProperty("minLength", out var least) ? least.GetInt32() : 0)
                && n <= (schema.TryGetProperty("maxLength", out var most) ? most.GetInt32() : int.MaxValue),
            "number" => value.ValueKind == JsonValueKind.Number && double.IsFinite(value.GetDouble()),
            "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "null" => value.ValueKind == JsonValueKind.Null,
            _ => false,
        });
    }

    static bool ObjectValidates(JsonElement value, JsonElement schema)
    {
        if (!schema.TryGetProperty("properties", out var properties)) return true;
        var required = schema.TryGetProperty("required", out var names) ? names.EnumerateArray().Select(n => n.GetString()!).ToList() : [];
        return required.All(r => value.TryGetProperty(r, out _))
            && value.EnumerateObject().All(p => properties.TryGetProperty(p.Name, out var s) && Validates(p.Value, s));
    }
}
