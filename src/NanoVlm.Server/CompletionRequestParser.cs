using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Generation.Structured;
using NanoVlm.Runtime;
using NanoVlm.Serving;

namespace NanoVlm.Server;

/// <summary>
/// OpenAI's chat-completions request: messages whose content is a string or parts (<c>text</c>; <c>image_url</c> with a base64
/// <c>data:</c> URL), and the decoding fields; or its completions request (<see cref="ParseText"/>): a plain <c>prompt</c>. Anything
/// wrong is an <see cref="ApiException"/> naming the field.
/// </summary>
sealed class CompletionRequestParser(ServerOptions options, ImageProcessor images)
{
    /// <summary><c>POST /v1/completions</c>: <c>prompt</c> (a string, or an array of one), the same decoding fields (and
    /// <c>response_format</c>, as vLLM takes it there), <c>max_tokens</c> 16 when unset (OpenAI's default there), <c>logprobs</c> as
    /// the number of alternatives (0-5).</summary>
    public CompletionRequest ParseText(JsonElement root)
    {
        CheckModel(root);
        if (root.TryGetProperty("messages", out _)) throw ApiException.BadRequest("/v1/completions takes a 'prompt', not 'messages' (use /v1/chat/completions)", "messages");
        if (!root.TryGetProperty("prompt", out var prompt)) throw ApiException.BadRequest("missing field 'prompt'", "prompt");
        var text = prompt.ValueKind switch
        {
            JsonValueKind.String => Text(prompt, "prompt"),
            JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String => Text(prompt[0], "prompt"),
            JsonValueKind.Array => throw ApiException.BadRequest("'prompt' as an array must hold exactly one string (one prompt per request)", "prompt"),
            _ => throw ApiException.BadRequest("'prompt' must be a string", "prompt"),
        };
        var logprobs = Int(root, "logprobs");
        if (logprobs is < 0 or > 5) throw ApiException.BadRequest($"logprobs must be between 0 and 5, got {logprobs}", "logprobs");
        var (generation, n, stream, includeUsage, maxTokens) = Decoding(root, logprobs, defaultMaxTokens: 16);
        return new CompletionRequest(new ChatRequest([], [], generation)
        {
            Prompt = text, Choices = n, Stop = Stops(root), ToContextEnd = false, ResponseFormat = ResponseFormat(root),
        }, stream, includeUsage);
    }

    void CheckModel(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("the body must be a JSON object");
        var model = String(root, "model") ?? throw ApiException.BadRequest("missing field 'model'", "model");
        if (model != options.ModelId)
            throw new ApiException(404, $"the model '{model}' does not exist; this server serves '{options.ModelId}'", "model", "model_not_found");
    }

    public CompletionRequest Parse(JsonElement root)
    {
        CheckModel(root);
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' must be a non-empty array", "messages");
        var imageCount = messages.EnumerateArray().Sum(m => Parts(m).Count(p => PartType(p) == "image_url"));
        if (imageCount > options.MaxImages)
            throw ApiException.BadRequest($"{imageCount} images; at most {options.MaxImages} per request", "messages");

        var chat = new List<PromptMessage>();
        var decoded = new List<RgbImage>();
        var i = 0;
        foreach (var message in messages.EnumerateArray()) chat.Add(Message(message, i++, decoded));

        var logprobs = Bool(root, "logprobs") ?? false;
        var topLogprobs = Int(root, "top_logprobs");
        if (topLogprobs is < 0 or > Generation.GenerationOptions.MaxTopLogprobs)
            throw ApiException.BadRequest($"top_logprobs must be between 0 and {Generation.GenerationOptions.MaxTopLogprobs}, got {topLogprobs}", "top_logprobs");
        if (topLogprobs is not null && !logprobs) throw ApiException.BadRequest("top_logprobs needs logprobs set to true", "top_logprobs");
        var (generation, n, stream, includeUsage, maxTokens) = Decoding(root, logprobs ? topLogprobs ?? 0 : null, defaultMaxTokens: null);
        return new CompletionRequest(new ChatRequest(chat, decoded, generation)
        {
            Choices = n, Stop = Stops(root), ToContextEnd = maxTokens is null, ResponseFormat = ResponseFormat(root),
        }, stream, includeUsage);
    }

    /// <summary><c>response_format</c>: <c>text</c> (null), <c>json_object</c>, or <c>json_schema</c> with its <c>schema</c>.</summary>
    static JsonSchema? ResponseFormat(JsonElement root)
    {
        const string field = "response_format";
        if (!root.TryGetProperty(field, out var format) || format.ValueKind == JsonValueKind.Null) return null;
        if (format.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"'{field}' must be an object with a 'type'", field);
        switch (String(format, "type", field))
        {
            case "text":
                return null;
            case "json_object":
                return JsonSchema.AnyObject;
            case "json_schema":
                if (!format.TryGetProperty("json_schema", out var named) || named.ValueKind != JsonValueKind.Object)
                    throw ApiException.BadRequest($"'{field}.json_schema' must be an object holding the 'schema'", $"{field}.json_schema");
                if (!named.TryGetProperty("schema", out var schema))
                    throw ApiException.BadRequest($"'{field}.json_schema.schema' is missing", $"{field}.json_schema.schema");
                try
                {
                    return JsonSchemaReader.Read(schema);
                }
                catch (NanoVlmException e) when (e.Parameter is { } parameter)
                {
                    throw ApiException.BadRequest($"{field}.json_schema{e.Message[parameter.Length..]}", $"{field}.json_schema.schema");
                }
            case var other:
                throw ApiException.BadRequest($"'{field}.type' must be text, json_object or json_schema, got {(other is null ? "nothing" : $"'{other}'")}", $"{field}.type");
        }
    }

    /// <summary>The decoding fields both endpoints share.</summary>
    (Generation.GenerationOptions Options, int N, bool Stream, bool IncludeUsage, int? MaxTokens) Decoding(JsonElement root, int? logprobs, int? defaultMaxTokens)
    {
        var maxTokens = Int(root, "max_completion_tokens") ?? Int(root, "max_tokens") ?? defaultMaxTokens;
        if (maxTokens is < 1) throw ApiException.BadRequest($"max_tokens must be >= 1, got {maxTokens}", "max_tokens");
        var temperature = Number(root, "temperature");
        if (temperature is < 0 or > 2) throw ApiException.BadRequest($"temperature must be between 0 and 2, got {temperature}", "temperature");
        var topP = Number(root, "top_p");
        if (topP is <= 0 or > 1) throw ApiException.BadRequest($"top_p must be in (0, 1], got {topP}", "top_p");
        var topK = Int(root, "top_k");
        if (topK is < 0) throw ApiException.BadRequest($"top_k must be >= 0, got {topK}", "top_k");
        long? seed = root.TryGetProperty("seed", out var s) && s.ValueKind != JsonValueKind.Null
            ? s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var v) ? v : throw ApiException.BadRequest("'seed' must be an integer", "seed")
            : null;
        var frequencyPenalty = Number(root, "frequency_penalty");
        if (frequencyPenalty is < -2 or > 2) throw ApiException.BadRequest($"frequency_penalty must be between -2 and 2, got {frequencyPenalty}", "frequency_penalty");
        var presencePenalty = Number(root, "presence_penalty");
        if (presencePenalty is < -2 or > 2) throw ApiException.BadRequest($"presence_penalty must be between -2 and 2, got {presencePenalty}", "presence_penalty");
        var n = Int(root, "n") ?? 1;
        if (n < 1 || n > options.Engine.MaxBatch)
            throw ApiException.BadRequest($"n must be between 1 and {options.Engine.MaxBatch}, got {n}", "n");
        var stream = Bool(root, "stream") ?? false;
        var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && (Bool(so, "include_usage") ?? false);

        return (ChatSampling.Options(maxTokens, temperature, topP, topK, seed, frequencyPenalty, presencePenalty, logprobs), n, stream, includeUsage, maxTokens);
    }

    PromptMessage Message(JsonElement message, int index, List<RgbImage> decoded)
    {
        var where = $"messages[{index}]";
        if (message.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{where} must be an object", where);
        var role = String(message, "role", where) ?? throw ApiException.BadRequest($"{where}: missing field 'role'", $"{where}.role");
        role = role switch
        {
            "system" or "developer" => "system",
            "user" or "assistant" => role,
            _ => throw ApiException.BadRequest($"{where}: unsupported role '{role}' (use system, user or assistant)", $"{where}.role"),
        };
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            return role == "assistant" ? new PromptMessage(role, "") : throw ApiException.BadRequest($"{where}: missing field 'content'", $"{where}.content");
        if (content.ValueKind == JsonValueKind.String) return new PromptMessage(role, Text(content, $"{where}.content"));
        if (content.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest($"{where}.content must be a string or an array of parts", $"{where}.content");
        var texts = new List<string>();
        var p = 0;
        foreach (var part in content.EnumerateArray())
        {
            var at = $"{where}.content[{p++}]";
            switch (PartType(part))
            {
                case "text":
                    texts.Add(String(part, "text", at) ?? throw ApiException.BadRequest($"{at}: missing field 'text'", $"{at}.text"));
                    break;
                case "image_url":
                    decoded.Add(Image(part, at, decoded.Count + 1));
                    break;
                case null:
                    throw ApiException.BadRequest($"{at} must be an object with a 'type'", at);
                case var other:
                    throw ApiException.BadRequest($"{at}: unsupported part type '{other}' (use text or image_url)", $"{at}.type");
            }
        }
        return new PromptMessage(role, string.Join("\n", texts));
    }

    RgbImage Image(JsonElement part, string at, int number)
    {
        var url = part.TryGetProperty("image_url", out var imageUrl) ? imageUrl.ValueKind switch
        {
            JsonValueKind.String => Text(imageUrl, $"{at}.image_url"),
            JsonValueKind.Object => String(imageUrl, "url", $"{at}.image_url"),
            _ => null,
        } : null;
        if (url is null) throw ApiException.BadRequest($"{at}: missing 'image_url.url'", $"{at}.image_url");
        return images.Decode(DataUrl.Bytes(url, $"{at}.image_url.url"), $"image {number} ({at})");
    }

    static IEnumerable<JsonElement> Parts(JsonElement message) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.Array
            ? c.EnumerateArray()
            : [];

    static string? PartType(JsonElement part) =>
        part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? Text(t, "type") : null;

    static IReadOnlyList<string> Stops(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        if (stop.ValueKind == JsonValueKind.String) return [Text(stop, "stop")];
        if (stop.ValueKind != JsonValueKind.Array || stop.EnumerateArray().Any(s => s.ValueKind != JsonValueKind.String))
            throw ApiException.BadRequest("'stop' must be a string or an array of strings", "stop");
        var stops = stop.EnumerateArray().Select(s => Text(s, "stop")).ToList();
        if (stops.Count > ChatRequest.MaxStops) throw ApiException.BadRequest($"at most {ChatRequest.MaxStops} stop strings, got {stops.Count}", "stop");
        if (stops.Any(s => s.Length == 0)) throw ApiException.BadRequest("a stop string is empty", "stop");
        return stops;
    }

    static string? String(JsonElement obj, string name, string? where = null)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        var field = where is null ? name : $"{where}.{name}";
        return value.ValueKind == JsonValueKind.String ? Text(value, field) : throw ApiException.BadRequest($"'{field}' must be a string", field);
    }

    /// <summary>A JSON string's text; one that is not valid UTF-16 (a lone surrogate escape such as \ud800) is the client's error, named.</summary>
    static string Text(JsonElement value, string field)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw ApiException.BadRequest($"'{field}' is not valid text (it holds a lone UTF-16 surrogate)", field);
        }
    }

    static int? Int(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i)
            ? i
            : throw ApiException.BadRequest($"'{name}' must be an integer between {int.MinValue} and {int.MaxValue}", name);
    }

    static double? Number(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw ApiException.BadRequest($"'{name}' must be a number", name);
    }

    static bool? Bool(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : throw ApiException.BadRequest($"'{name}' must be true or false", name);
    }
}
