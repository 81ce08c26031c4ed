using System.ClientModel;
using System.Collections.Concurrent;
using NanoVlm.Server;
using NanoVlm.Serving;
using OpenAI;
using OpenAI.Chat;
using NanoVlm.Pretrained;

namespace NanoVlm.Tests.Serving;

/// <summary>
/// The golden v0.2 case (a complete current-generation checkpoint with its tokenizer) served on a free loopback port, with small
/// limits so that the hostile requests are cheap. Its log lines are kept.
/// </summary>
public sealed class ServedModel : IAsyncLifetime
{
    public const string ModelId = "golden-v02";
    public static string Folder { get; } = Path.Combine(GoldenCases.CopyRoot("golden-v02"), "v02-public-a");
    public static string Image(int i) => Path.Combine(Folder, $"image_{i}.png");

    public static readonly ServerOptions Limits = new()
    {
        Port = 0, ModelId = ModelId, MaxBodyBytes = 2 << 20, MaxImages = 4, Engine = new ChatEngineOptions { MaxBatch = 8, MaxQueue = 32 },
    };

    public ConcurrentQueue<string> Log { get; } = new();
    public PretrainedVlm Vlm { get; private set; } = null!;
    public VlmServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Vlm = PretrainedVlm.Load(Folder);
        Vlm.Model.eval();
        Server = await VlmServer.StartAsync(Vlm, Limits with { Log = Log.Enqueue });
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Vlm.Dispose();
    }

    public ChatClient Chat() =>
        new(ModelId, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(Server.Url, "v1") });

    /// <summary>
    /// A client that closes a connection whose response it stops reading (by default .NET drains up to 1 MB for two seconds to reuse
    /// it, which hides a disconnect from the server when decoding is fast).
    /// </summary>
    public HttpClient Http() =>
        new(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = Server.Url, Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>The golden model loaded apart from the served one (for engines of a test's own), in eval mode.</summary>
    public static PretrainedVlm LoadApart()
    {
        var vlm = PretrainedVlm.Load(Folder);
        vlm.Model.eval();
        return vlm;
    }

    /// <summary>Image <paramref name="i"/> decoded by the model's image processor.</summary>
    public static NanoVlm.Data.RgbImage Decoded(PretrainedVlm vlm, int i) => NanoVlm.Data.VqaImage.FromFile(Image(i)).Decode(vlm.Processor.Images);

    /// <summary>A conversation (user first, then alternating) with its images: greedy, 8 tokens, the top 5 log-probabilities of each.</summary>
    public static ChatRequest Turn(IReadOnlyList<NanoVlm.Data.RgbImage> images, params string[] texts) => new(
        [.. texts.Select((t, i) => new NanoVlm.Data.PromptMessage(i % 2 == 0 ? "user" : "assistant", t))], images,
        new NanoVlm.Generation.GenerationOptions { Greedy = true, MaxNewTokens = 8, Logprobs = 5 });

    /// <summary>The question about image <paramref name="i"/> as the OpenAI client sends it.</summary>
    public static UserChatMessage Question(string text, params int[] images) =>
        new([.. images.Select(i => ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(File.ReadAllBytes(Image(i))), "image/png")),
            ChatMessageContentPart.CreateTextPart(text)]);
}

[CollectionDefinition(nameof(ServedModel))]
public sealed class ServedModelCollection : ICollectionFixture<ServedModel>;
