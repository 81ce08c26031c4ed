using NanoVlm.Runtime;
namespace NanoVlm.Hub;

/// <summary>A Hub failure with a one-line message naming the repo, file or URL; <see cref="Kind"/> lets callers react (fall back to the cache, try another file).</summary>
public sealed class HubException(HubErrorKind kind, string message, Exception? inner = null) : NanoVlmException(message, inner)
{
    public HubErrorKind Kind { get; } = kind;
}
