using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using NanoVlm.Data;
using NanoVlm.Generation;
using NanoVlm.Serving;
using NanoVlm.Runtime;

namespace NanoVlm.Server;

/// <summary>
/// <c>POST /v1/chat/completions</c> (or, with <paramref name="text"/>, <c>POST /v1/completions</c>: a plain prompt): parses the request,
/// hands it to the engine, and sends the answer as one JSON body or as server-sent events (a chunk per token, then
/// <c>data: [DONE]</c>). Every refusal is an OpenAI-style JSON error; a client that goes away cancels its job, which frees its rows
/// in the batch. Logs one line per request.
/// </summary>
sealed class ChatCompletionsEndpoint(ChatEngine engine, ServerOptions options, ServerMetrics metrics, bool text = false)
{
    static readonly Dictionary<string, string> ApiNames = new()
    {
        ["MaxNewTokens"] = "max_tokens", ["Temperature"] = "temperature", ["TopP"] = "top_p", ["TopK"] = "top_k",
        ["ResponseFormat"] = "response_format",
    };

    readonly CompletionRequestParser _parser = new(options,
        new ImageProcessor(engine.Vlm.Config.VitImgSize, new ImageLimits(options.MaxBodyBytes, options.MaxImagePixels)));

    public async Task Handle(HttpContext http)
    {
        var started = Stopwatch.GetTimestamp();
        var id = (text ? "cmpl-" : "chatcmpl-") + Guid.NewGuid().ToString("N")[..24];
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var aborted = http.RequestAborted;
        ChatJob? job = null;
        var (status, stream, problem) = (200, false, (string?)null);
        try
        {
            CompletionRequest request;
            using (var body = await ReadJson(http)) request = text ? _parser.ParseText(body.RootElement) : _parser.Parse(body.RootElement);
            stream = request.Stream;
            job = engine.Submit(request.Chat, aborted);
            if (stream)
            {
                await Stream(http, id, created, job, request.IncludeUsage);
            }
            else
            {
                var result = await job.ResultAsync(aborted);
                await Send(http, 200, text ? OpenAiJson.TextCompletion(id, options.ModelId, created, result, engine.Vlm.Tokenizer)
                    : OpenAiJson.Completion(id, options.ModelId, created, result, engine.Vlm.Tokenizer));
            }
        }
        catch (Exception e) when (aborted.IsCancellationRequested && e is OperationCanceledException or IOException or System.Net.Sockets.SocketException
                                       or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // Writing to or reading from a connection the client closed fails in several ways; all of them are the client leaving.
            (status, problem) = (499, "client closed the connection");
        }
        catch (Exception e)
        {
            var (code, type, param, errorCode) = e switch
            {
                ApiException a => (a.Status, a.Type, a.Param, a.Code),
                QueueFullException => (503, "server_error", null, "server_busy"),
                NanoVlmException { Parameter: { } p } when ApiNames.GetValueOrDefault(p) is { } name => (400, "invalid_request_error", name, null),
                NanoVlmException => (400, "invalid_request_error", null, null),
                _ => (500, "server_error", null, null),
            };
            // A message about a decoding parameter names it as the API does (MaxNewTokens -> max_tokens). A server error says no more
            // than that: its detail (libtorch's native stack, paths) goes to the log, never to the client.
            var message = e is NanoVlmException { Parameter: { } parameter } && param is not null ? param + e.Message[parameter.Length..]
                : code >= 500 && e is not (QueueFullException or DecodeFailedException) ? "internal error while answering this request; the server log has the detail"
                : e.Message;
            (status, problem) = (code, code >= 500 ? $"{message} ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")})" : message);
            if (code == 503) http.Response.Headers.RetryAfter = "1";
            var error = OpenAiJson.Error(code, message, type, param, errorCode);
            if (!http.Response.HasStarted) await Send(http, code, error);
            else if (stream) await Event(http, error);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            metrics.Record(status, elapsed, job);
            options.Log?.Invoke(LogLine(id, status, stream, elapsed, job, problem));
        }
    }

    async Task<JsonDocument> ReadJson(HttpContext http)
    {
        try
        {
            return await JsonDocument.ParseAsync(http.Request.Body, new JsonDocumentOptions { MaxDepth = 64 }, http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(413, $"the body is larger than {options.MaxBodyBytes} bytes", code: "request_too_large");
        }
        catch (BadHttpRequestException e)
        {
            throw new ApiException(e.StatusCode, e.Message);
        }
    }

    async Task Stream(HttpContext http, string id, long created, ChatJob job, bool includeUsage)
    {
        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers.CacheControl = "no-cache";
        for (var i = 0; i < job.Choices && !text; i++)
            await Event(http, OpenAiJson.Chunk(id, options.ModelId, created, i, "assistant", "", null));
        await foreach (var delta in job.Deltas.ReadAllAsync(http.RequestAborted))
        {
            if (text)
            {
                if (delta.Text.Length > 0 || delta.Logprobs is { Count: > 0 } || delta.FinishReason is not null)
                    await Event(http, OpenAiJson.TextChunk(id, options.ModelId, created, delta.Choice, delta.Text, delta.FinishReason, delta.Logprobs, engine.Vlm.Tokenizer));
                continue;
            }
            if (delta.Text.Length > 0 || delta.Logprobs is { Count: > 0 })
                await Event(http, OpenAiJson.Chunk(id, options.ModelId, created, delta.Choice, null, delta.Text, null, delta.Logprobs, engine.Vlm.Tokenizer));
            if (delta.FinishReason is not null)
                await Event(http, OpenAiJson.Chunk(id, options.ModelId, created, delta.Choice, null, null, delta.FinishReason));
        }
        if (includeUsage) await Event(http, OpenAiJson.UsageChunk(id, options.ModelId, created, job.PromptTokens, job.CompletionTokens, job.CachedTokens, text));
        await http.Response.WriteAsync("data: [DONE]\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    static async Task Event(HttpContext http, byte[] json)
    {
        var body = http.Response.Body;
        await body.WriteAsync("data: "u8.ToArray(), http.RequestAborted);
        await body.WriteAsync(json, http.RequestAborted);
        await body.WriteAsync("\n\n"u8.ToArray(), http.RequestAborted);
        await body.FlushAsync(http.RequestAborted);
    }

    static async Task Send(HttpContext http, int status, byte[] json)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(json, http.RequestAborted);
    }

    static string LogLine(string id, int status, bool stream, TimeSpan elapsed, ChatJob? job, string? problem)
    {
        var line = new StringBuilder($"{id} {status}{(stream ? " stream" : "")}");
        if (job is not null)
        {
            var ttft = job.TimeToFirstToken is { } t ? $"{t.TotalMilliseconds:F0} ms" : "-";
            line.Append(CultureInfo.InvariantCulture,
                $" tokens in {job.PromptTokens} out {job.CompletionTokens}, first token {ttft}, {job.CompletionTokens / elapsed.TotalSeconds:F1} tokens/s");
        }
        line.Append(CultureInfo.InvariantCulture, $", {elapsed.TotalSeconds:F2} s");
        if (problem is not null) line.Append(": ").Append(problem);
        return line.ToString();
    }
}
