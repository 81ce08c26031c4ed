using NanoVlm.Serving;
using NanoVlm.Runtime;

namespace NanoVlm.Server;

/// <summary>Where the server listens, what it calls the model, and the limits it puts on requests.</summary>
public sealed record ServerOptions
{
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (see <see cref="VlmServer.Url"/>).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>The name in /v1/models; requests must name it.</summary>
    public string ModelId { get; init; } = "nanovlm";
    public ChatEngineOptions Engine { get; init; } = new();
    /// <summary>Largest request body; a larger one is refused with 413 while it is read.</summary>
    public long MaxBodyBytes { get; init; } = 32L << 20;
    /// <summary>Images in one request.</summary>
    public int MaxImages { get; init; } = 8;
    /// <summary>Pixels of one image, read from its header before it is decoded.</summary>
    public long MaxImagePixels { get; init; } = 16_000_000;
    /// <summary>Receives one line per request (and the start line); null for none.</summary>
    public Action<string>? Log { get; init; }

    public void Validate()
    {
        Engine.Validate();
        if (Port is < 0 or > 65535) throw new NanoVlmException($"port must be between 0 and 65535, got {Port}");
        if (MaxBodyBytes < 1024) throw new NanoVlmException($"max body must be at least 1024 bytes, got {MaxBodyBytes}");
        if (MaxImages < 0) throw new NanoVlmException($"max images must be >= 0, got {MaxImages}");
        if (MaxImagePixels < 1) throw new NanoVlmException($"max image pixels must be >= 1, got {MaxImagePixels}");
        if (string.IsNullOrWhiteSpace(ModelId)) throw new NanoVlmException("the model id is empty");
    }
}
