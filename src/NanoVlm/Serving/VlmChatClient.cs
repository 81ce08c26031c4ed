using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using NanoVlm.Data;
using NanoVlm.Generation.Structured;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Serving;

/// <summary>
/// A loaded model as a Microsoft.Extensions.AI <see cref="IChatClient"/>: text and image <see cref="DataContent"/>, streaming,
/// <see cref="ChatOptions"/> (MaxOutputTokens, Temperature with 0 = greedy, TopP, TopK, Seed, StopSequences, ResponseFormat: JSON,
/// with a schema or not, enforced while decoding). Concurrent calls
/// decode together in one batch. The model stays the caller's.
/// </summary>
public sealed class VlmChatClient : IChatClient
{
    readonly ChatEngine _engine;
    readonly string _modelId;

    public VlmChatClient(PretrainedVlm vlm, string modelId = "nanovlm", ChatEngineOptions? options = null)
    {
        _engine = new ChatEngine(vlm, options);
        _modelId = modelId;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var job = _engine.Submit(Request(messages, options), cancellationToken);
        var result = await job.ResultAsync(cancellationToken);
        var (text, finish) = result.Choices[0];
        return new ChatResponse(new AiChatMessage(ChatRole.Assistant, text))
        {
            ModelId = _modelId, FinishReason = FinishReason(finish), Usage = Usage(result), CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var job = _engine.Submit(Request(messages, options), cancellationToken);
        await foreach (var delta in job.Deltas.ReadAllAsync(cancellationToken))
            yield return new ChatResponseUpdate(ChatRole.Assistant, delta.Text)
            {
                ModelId = _modelId, FinishReason = delta.FinishReason is null ? null : FinishReason(delta.FinishReason),
            };
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(job.Result))]) { ModelId = _modelId };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("nanovlm", null, _modelId)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(_engine.Vlm) ? _engine.Vlm
        : null;

    ChatRequest Request(IEnumerable<AiChatMessage> messages, ChatOptions? options)
    {
        var (converted, images) = ChatMessages.Convert(messages, _engine.Vlm.Processor.Images);
        return new ChatRequest(converted, images,
            ChatSampling.Options(options?.MaxOutputTokens, options?.Temperature, options?.TopP, options?.TopK, options?.Seed,
                options?.FrequencyPenalty, options?.PresencePenalty))
        {
            ToContextEnd = options?.MaxOutputTokens is null,
            Stop = options?.StopSequences?.ToList() ?? [],
            ResponseFormat = options?.ResponseFormat switch
            {
                ChatResponseFormatJson { Schema: { } schema } => JsonSchemaReader.Read(schema),
                ChatResponseFormatJson => JsonSchema.AnyObject,
                _ => null,
            },
        };
    }

    static ChatFinishReason FinishReason(string reason) => reason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop;

    static UsageDetails Usage(ChatResult result) => new()
    {
        InputTokenCount = result.PromptTokens, OutputTokenCount = result.CompletionTokens,
        TotalTokenCount = result.PromptTokens + result.CompletionTokens,
    };

    public void Dispose() => _engine.Dispose();
}
