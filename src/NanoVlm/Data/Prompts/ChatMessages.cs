using Microsoft.Extensions.AI;
using NanoVlm.Runtime;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace NanoVlm.Data;

/// <summary>
/// Microsoft.Extensions.AI messages as a prompt: each message's texts joined by newlines, its image <see cref="DataContent"/> decoded
/// in order. No libtorch: NanoVlm.Onnx compiles it too.
/// </summary>
public static class ChatMessages
{
    public static (List<PromptMessage> Messages, List<RgbImage> Images) Convert(IEnumerable<AiChatMessage> messages, ImageProcessor decoder)
    {
        var converted = new List<PromptMessage>();
        var images = new List<RgbImage>();
        foreach (var message in messages)
        {
            var texts = new List<string>();
            foreach (var content in message.Contents)
                switch (content)
                {
                    case TextContent text:
                        texts.Add(text.Text);
                        break;
                    case DataContent data when data.HasTopLevelMediaType("image"):
                        images.Add(decoder.Decode(data.Data.ToArray(), data.Name ?? $"image {images.Count + 1}"));
                        break;
                    default:
                        throw new NanoVlmException($"unsupported message content {content.GetType().Name}: give text and image DataContent");
                }
            converted.Add(new PromptMessage(Role(message.Role), string.Join("\n", texts)));
        }
        return (converted, images);
    }

    public static string Role(ChatRole role) =>
        role == ChatRole.User ? "user"
        : role == ChatRole.Assistant ? "assistant"
        : role == ChatRole.System ? "system"
        : throw new NanoVlmException($"unsupported role '{role}': use system, user or assistant");
}
