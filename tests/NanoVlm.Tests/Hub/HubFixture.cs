using NanoVlm.Hub;

namespace NanoVlm.Tests.Hub;

/// <summary>A fake Hub, a temporary cache folder and clients pointed at both, with retries fast enough for tests.</summary>
internal sealed class HubFixture : IDisposable
{
    public const string Token = "hf_SECRETtokenDoNotLeak123";

    public FakeHub Hub { get; } = new() { ValidToken = Token };
    public string CacheDir { get; } = Directory.CreateTempSubdirectory("nanovlm-hub-test-").FullName;

    public HubOptions Options(string? token = Token, bool offline = false, int attempts = 3) => new()
    {
        Endpoint = new Uri(Hub.Endpoint),
        CacheDir = CacheDir,
        Token = token,
        Offline = offline,
        Retry = new RetryPolicy(attempts, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(20)),
        Timeout = TimeSpan.FromSeconds(10),
    };

    public HubClient Client(string? token = Token, bool offline = false, int attempts = 3) => new(Options(token, offline, attempts));

    public FakeRequest[] Requests => [.. Hub.Requests];

    public static byte[] RandomBytes(int n, int seed)
    {
        var bytes = new byte[n];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A small model repo: a regular config.json and an LFS model.safetensors.</summary>
    public FakeRepo AddModel(string id = "org/tiny", int modelBytes = 300_000, bool gated = false, bool isPrivate = false) =>
        Hub.AddRepo(id, new Dictionary<string, byte[]>
        {
            ["config.json"] = "{\"vit_hidden_dim\": 8}"u8.ToArray(),
            ["model.safetensors"] = RandomBytes(modelBytes, 1),
        }, gated: gated, isPrivate: isPrivate);

    public void Dispose()
    {
        Hub.Dispose();
        Directory.Delete(CacheDir, recursive: true);
    }
}
