using System.Buffers;
using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Serving;

namespace NanoVlm.Server;

/// <summary>Response bodies shaped as OpenAI's, so that its clients parse them.</summary>
static class OpenAiJson
{
    public static byte[] Error(int status, string message, string type, string? param, string? code) => Write(w =>
    {
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        w.WriteString("param", param);
        if (code is null) w.WriteNull("code");
        else w.WriteString("code", code);
        w.WriteEndObject();
    });

    public static byte[] Models(string modelId, long created) => Write(w =>
    {
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        w.WriteStartObject();
        w.WriteString("id", modelId);
        w.WriteString("object", "model");
        w.WriteNumber("created", created);
        w.WriteString("owned_by", "nanovlm");
        w.WriteEndObject();
        w.WriteEndArray();
    });

    public static byte[] Completion(string id, string model, long created, ChatResult result, Tokenizer tokenizer) => Write(w =>
    {
        Head(w, id, "chat.completion", model, created);
        w.WriteStartArray("choices");
        for (var i = 0; i < result.Choices.Count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("index", i);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", result.Choices[i].Text);
            w.WriteNull("refusal");
            w.WriteEndObject();
            Logprobs(w, result.Logprobs?[i], tokenizer);
            w.WriteString("finish_reason", result.Choices[i].FinishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        Usage(w, result.PromptTokens, result.CompletionTokens, result.CachedTokens);
    });

    /// <summary><c>/v1/completions</c>' answer: each choice's <c>text</c>, its legacy <c>logprobs</c> when asked, its finish reason.</summary>
    public static byte[] TextCompletion(string id, string model, long created, ChatResult result, Tokenizer tokenizer) => Write(w =>
    {
        Head(w, id, "text_completion", model, created);
        w.WriteStartArray("choices");
        for (var i = 0; i < result.Choices.Count; i++) TextChoice(w, i, result.Choices[i].Text, result.Choices[i].FinishReason, result.Logprobs?[i], tokenizer);
        w.WriteEndArray();
        Usage(w, result.PromptTokens, result.CompletionTokens, result.CachedTokens);
    });

    /// <summary>A streamed <c>/v1/completions</c> chunk: new text of one choice, with its finish reason on the last.</summary>
    public static byte[] TextChunk(string id, string model, long created, int choice, string text, string? finishReason, IReadOnlyList<TokenLogprob>? logprobs,
        Tokenizer tokenizer) => Write(w =>
    {
        Head(w, id, "text_completion", model, created);
        w.WriteStartArray("choices");
        TextChoice(w, choice, text, finishReason, logprobs, tokenizer);
        w.WriteEndArray();
    });

    static void TextChoice(Utf8JsonWriter w, int index, string text, string? finishReason, IReadOnlyList<TokenLogprob>? logprobs, Tokenizer tokenizer)
    {
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteNumber("index", index);
        if (logprobs is null) w.WriteNull("logprobs");
        else
        {
            // The legacy shape: parallel lists of tokens, their log-probabilities, the alternatives as {token: logprob}, and offsets.
            var tokens = logprobs.Select(t => tokenizer.Decode([(int)t.Token])).ToList();
            w.WriteStartObject("logprobs");
            w.WriteStartArray("tokens");
            foreach (var t in tokens) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var t in logprobs) w.WriteNumberValue(t.Logprob);
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var t in logprobs)
            {
                w.WriteStartObject();
                foreach (var (token, logprob) in t.Top) w.WriteNumber(tokenizer.Decode([(int)token]), logprob);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            var offset = 0;
            foreach (var t in tokens)
            {
                w.WriteNumberValue(offset);
                offset += t.Length;
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }

    /// <summary>A streamed chunk: a delta of one answer (its role first, then text) or its finish reason.</summary>
    public static byte[] Chunk(string id, string model, long created, int choice, string? role, string? content, string? finishReason,
        IReadOnlyList<TokenLogprob>? logprobs = null, Tokenizer? tokenizer = null) => Write(w =>
    {
        Head(w, id, "chat.completion.chunk", model, created);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", choice);
        w.WriteStartObject("delta");
        if (role is not null) w.WriteString("role", role);
        if (content is not null) w.WriteString("content", content);
        w.WriteEndObject();
        Logprobs(w, logprobs, tokenizer);
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    /// <summary>The last chunk when <c>stream_options.include_usage</c> is set: no choices, the usage.</summary>
    public static byte[] UsageChunk(string id, string model, long created, int promptTokens, int completionTokens, int cachedTokens, bool text = false) => Write(w =>
    {
        Head(w, id, text ? "text_completion" : "chat.completion.chunk", model, created);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, promptTokens, completionTokens, cachedTokens);
    });

    /// <summary>OpenAI's <c>logprobs</c>: <c>{"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}], "refusal": null}</c>, or null.</summary>
    static void Logprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob>? tokens, Tokenizer? tokenizer)
    {
        if (tokens is null || tokenizer is null)
        {
            w.WriteNull("logprobs");
            return;
        }
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            Token(w, tokenizer, t.Token, t.Logprob);
            w.WriteStartArray("top_logprobs");
            foreach (var (token, logprob) in t.Top)
            {
                w.WriteStartObject();
                Token(w, tokenizer, token, logprob);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("refusal");
        w.WriteEndObject();
    }

    static void Token(Utf8JsonWriter w, Tokenizer tokenizer, long token, double logprob)
    {
        w.WriteString("token", tokenizer.Decode([(int)token]));
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (var b in tokenizer.TokenBytes((int)token)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    static void Head(Utf8JsonWriter w, string id, string kind, string model, long created)
    {
        w.WriteString("id", id);
        w.WriteString("object", kind);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
        w.WriteString("system_fingerprint", "nanovlm");
    }

    static void Usage(Utf8JsonWriter w, int prompt, int completion, int cached)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", cached);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
