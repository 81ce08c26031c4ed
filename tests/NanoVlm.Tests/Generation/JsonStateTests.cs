using System.Text;
using System.Text.Json;
using NanoVlm.Generation.Structured;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Generation;

/// <summary>The byte-level JSON grammar structured output decodes with: what it takes, what it refuses, and its closing cost.</summary>
public class JsonStateTests
{
    public const string Person = """
        {"type": "object", "title": "a person", "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 8},
            "age": {"type": "integer"},
            "nickname": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"enum": ["red", "green", 7]}, "minItems": 1, "maxItems": 2},
            "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"const": "x1"}}, "required": ["city", "zip"]},
            "score": {"type": "number"},
            "ok": {"type": "boolean"}},
          "required": ["name", "age", "tags", "address"], "additionalProperties": false}
        """;

    static JsonSchema Schema(string json) => JsonSchemaReader.Read(JsonDocument.Parse(json).RootElement);

    static JsonState? Run(JsonSchema schema, string text) => JsonState.Start(schema).Advance(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("""{"name":"Ann","age":3,"tags":["red"],"address":{"city":"X","zip":"x1"}}""")]
    [InlineData("""{"name": "Zoë", "age": -12, "nickname": null, "tags": ["green", 7], "address": {"city": "", "zip": "x1"}, "score": -0.5e+10, "ok": false}""")]
    [InlineData("""{"name":"a\"\\\u00e9","age":0,"nickname":"b","tags":[7],"address":{"city":"\n","zip":"x1"},"score":12.25}""")]
    public void AValidAnswerIsTakenToTheEnd(string answer)
    {
        var state = Run(Schema(Person), answer);
        Assert.NotNull(state);
        Assert.True(state.Complete, answer);
        Assert.Null(state.Advance((byte)' '));
        JsonDocument.Parse(answer).Dispose();
    }

    [Theory]
    [InlineData("""{"age":3""", "a required property skipped")]
    [InlineData("""{"name":"Ann","extra":1""", "a property the schema does not have")]
    [InlineData("""{"name":"Ann","age":3,"name":""", "a property again, out of order")]
    [InlineData("""{"name":"","age""", "a string shorter than minLength")]
    [InlineData("""{"name":"123456789""", "a string longer than maxLength")]
    [InlineData("""{"name":"A","age":1.5""", "a fraction in an integer")]
    [InlineData("""{"name":"A","age":01""", "a leading zero")]
    [InlineData("""{"name":"A","age":1,"tags":[]""", "fewer items than minItems")]
    [InlineData("""{"name":"A","age":1,"tags":["red","red","red""", "more items than maxItems")]
    [InlineData("""{"name":"A","age":1,"tags":["blue""", "a value outside the enum")]
    [InlineData("""{"name":"A","age":1,"tags":[7],"address":{"city":"a","zip":"x2""", "another value than the const")]
    [InlineData("""{"name":"\ud800""", "a lone surrogate escape")]
    [InlineData("{\"name\":\"a\tb", "a raw control character")]
    [InlineData("""{"name":"A","age":1,"tags":[7],"address":{"city":"a","zip":"x1"}}}""", "bytes after the whole value")]
    [InlineData("""{ "name""", "a space where none may be")]
    [InlineData("""{"name":"A","age":1,"ok":tru""", "a property out of order")]
    public void AnInvalidAnswerIsRefusedWhereItGoesWrong(string answer, string why)
    {
        Assert.True(Run(Schema(Person), answer) is null, why);
    }

    [Fact]
    public void InvalidUtf8IsRefusedAndValidUtf8Taken()
    {
        var text = JsonSchemaReader.Read(JsonDocument.Parse("""{"type": "string"}""").RootElement);
        Assert.NotNull(JsonState.Start(text).Advance([(byte)'"', 0xF0, 0x9F, 0x98, 0x80, (byte)'"']));
        Assert.Null(JsonState.Start(text).Advance([(byte)'"', 0xC0, 0x80]));          // overlong
        Assert.Null(JsonState.Start(text).Advance([(byte)'"', 0xED, 0xA0, 0x80]));    // a surrogate in UTF-8
        Assert.Null(JsonState.Start(text).Advance([(byte)'"', 0xE2, 0x82, (byte)'"'])); // cut short
        Assert.Null(JsonState.Start(text).Advance([(byte)'"', 0x80]));                // a continuation byte alone
    }

    [Fact]
    public void JsonObjectModeTakesAnyObjectAndNothingElse()
    {
        Assert.True(Run(JsonSchema.AnyObject, """{"a":[1,{"b":null},"c",true],"d":{}, "e": -0.5}""")!.Complete);
        Assert.Null(Run(JsonSchema.AnyObject, "[1]"));
        Assert.Null(Run(JsonSchema.AnyObject, "\"x\""));
        Assert.False(Run(JsonSchema.AnyObject, """{"a":""")!.Complete);
    }

    [Theory]
    [InlineData(Person)]
    [InlineData("""{"type": "array", "items": {"type": "object", "properties": {"k": {"enum": [1, 12, 123]}}, "required": ["k"]}, "minItems": 2}""")]
    [InlineData("""{"type": "object"}""")]
    [InlineData("""{"type": ["number", "boolean", "null"]}""")]
    public void TheCostIsTheFewestBytesThatEndTheAnswer(string schemaJson)
    {
        // From states along random walks: no byte lowers the cost by more than one and, while it is not 0, one byte lowers it by
        // exactly one (so it is exact, and an answer can always close within its cost); 0 is exactly where the value may end.
        var schema = Schema(schemaJson);
        var random = new Random(5);
        for (var walk = 0; walk < 40; walk++)
        {
            var state = JsonState.Start(schema);
            for (var step = 0; step < 40; step++)
            {
                var next = Enumerable.Range(0, 256).Select(b => (Byte: (byte)b, State: state.Advance((byte)b))).Where(n => n.State is not null).ToList();
                Assert.All(next, n => Assert.True(n.State!.Cost >= state.Cost - 1, $"byte {n.Byte} after a state of cost {state.Cost} gives {n.State.Cost}"));
                if (state.Cost > 0) Assert.Contains(next, n => n.State!.Cost == state.Cost - 1);
                if (next.Count == 0) break;
                state = next[random.Next(next.Count)].State!;
            }
        }
        Assert.Equal(schema.MinBytes, JsonState.Start(schema).Cost);
    }

    [Fact]
    public void ThePersonSchemasShortestAnswerIsWhatItsCostSays()
    {
        const string shortest = """{"name":"","age":0,"tags":[7],"address":{"city":"","zip":"x1"}}""";
        var schema = Schema(Person);
        Assert.Equal(Encoding.UTF8.GetByteCount(shortest) + 1, JsonState.Start(schema).Cost); // minLength 1 for name
    }

    [Theory]
    [InlineData("""{"type": "string", "pattern": "a+"}""", "pattern")]
    [InlineData("""{"anyOf": [{"type": "string"}]}""", "anyOf")]
    [InlineData("""{"type": "object", "properties": {"a": {"$ref": "#/x"}}}""", "$ref")]
    [InlineData("""{"type": "number", "minimum": 3}""", "minimum")]
    public void AnUnsupportedKeywordIsRefusedByName(string schema, string keyword)
    {
        var e = Assert.Throws<NanoVlmException>(() => Schema(schema));
        Assert.Equal("ResponseFormat", e.Parameter);
        Assert.Contains($"'{keyword}'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "required": ["b"]}""", "requires 'b'")]
    [InlineData("""{"type": "thing"}""", "unknown type 'thing'")]
    [InlineData("""{"enum": []}""", "'enum' must be a non-empty array")]
    [InlineData("""{"type": "array", "minItems": 3, "maxItems": 2}""", "minItems 3 > maxItems 2")]
    [InlineData("""{"type": "string", "maxLength": -1}""", "'maxLength' must be an integer")]
    [InlineData("""{"type": "array", "items": {"type": "string", "minLength": 60000}, "minItems": 60000}""", "at least")]
    public void AnImpossibleSchemaIsRefusedSayingWhy(string schema, string problem) =>
        Assert.Contains(problem, Assert.Throws<NanoVlmException>(() => Schema(schema)).Message);
}
