using Microsoft.Extensions.AI;
using NanoVlm.Onnx;
using NanoVlm.Runtime;

if (args.Length is < 2 or > 3)
{
    Console.Error.WriteLine("usage: OnnxConsole EXPORT_FOLDER IMAGE [QUESTION]   (EXPORT_FOLDER from: nanovlm export onnx --model M --out EXPORT_FOLDER)");
    return 2;
}
try
{
    using var vlm = OnnxVlm.Load(args[0]);
    using IChatClient client = new OnnxChatClient(vlm);
    var image = new DataContent(File.ReadAllBytes(args[1]), "image/" + Path.GetExtension(args[1]).TrimStart('.').ToLowerInvariant());
    var question = new ChatMessage(ChatRole.User, [image, new TextContent(args.Length > 2 ? args[2] : "What is in this image?")]);
    await foreach (var update in client.GetStreamingResponseAsync([question], new ChatOptions { Temperature = 0, MaxOutputTokens = 64 }))
        Console.Write(update.Text);
    Console.WriteLine();
    return 0;
}
catch (Exception e) when (e is NanoVlmException or IOException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
