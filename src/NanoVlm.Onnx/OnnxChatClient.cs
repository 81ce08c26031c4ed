using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using NanoVlm.Data;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace NanoVlm.Onnx;

/// <summary>
/// An exported model as a Microsoft.Extensions.AI <see cref="IChatClient"/>: text and image <see cref="DataContent"/>, streaming,
/// <see cref="ChatOptions"/> (MaxOutputTokens, Temperature with 0 = greedy, TopP, TopK, Seed). One request at a time (calls wait
/// for each other). The model stays the caller's.
/// </summary>
public sealed class OnnxChatClient(OnnxVlm vlm, string modelId = "nanovlm-onnx") : IChatClient
{
    readonly SemaphoreSlim gate = new(1, 1);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var (prompt, images, settings) = Request(messages, options);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var result = await Task.Run(() => vlm.Chat(prompt, images, settings), cancellationToken);
            return new ChatResponse(new AiChatMessage(ChatRole.Assistant, result.Text))
            {
                ModelId = modelId, FinishReason = Finish(result, settings), Usage = Usage(result), CreatedAt = DateTimeOffset.UtcNow,
            };
        }
        finally
        {
            gate.Release();
        }
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (prompt, images, settings) = Request(messages, options);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var pieces = Channel.CreateUnbounded<string>();
            var run = Task.Run(() =>
            {
                try
                {
                    return vlm.Chat(prompt, images, settings, text => pieces.Writer.TryWrite(text));
                }
                finally
                {
                    pieces.Writer.TryComplete();
                }
            }, cancellationToken);
            await foreach (var text in pieces.Reader.ReadAllAsync(cancellationToken))
                yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ModelId = modelId };
            var result = await run;
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(result))])
            {
                ModelId = modelId, FinishReason = Finish(result, settings),
            };
        }
        finally
        {
            gate.Release();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("nanovlm-onnx", null, modelId)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(vlm) ? vlm
        : null;

    (List<PromptMessage> Messages, List<RgbImage> Images, OnnxGenerationOptions Options) Request(IEnumerable<AiChatMessage> messages, ChatOptions? options)
    {
        var (converted, images) = ChatMessages.Convert(messages, vlm.Processor.Images);
        var defaults = new OnnxGenerationOptions();
        var settings = new OnnxGenerationOptions
        {
            MaxNewTokens = options?.MaxOutputTokens ?? defaults.MaxNewTokens,
            Greedy = options?.Temperature == 0,
            Temperature = options?.Temperature is { } t and > 0 ? t : defaults.Temperature,
            TopP = options?.TopP ?? defaults.TopP,
            TopK = options?.TopK ?? defaults.TopK,
            Seed = options?.Seed,
        };
        settings.Validate();
        return (converted, images, settings);
    }

    static ChatFinishReason Finish(OnnxGenerationResult result, OnnxGenerationOptions options) =>
        result.TokenIds.Count >= options.MaxNewTokens ? ChatFinishReason.Length : ChatFinishReason.Stop;

    static UsageDetails Usage(OnnxGenerationResult result) => new()
    {
        InputTokenCount = result.PromptTokens, OutputTokenCount = result.TokenIds.Count, TotalTokenCount = result.PromptTokens + result.TokenIds.Count,
    };

    public void Dispose() => gate.Dispose();
}
