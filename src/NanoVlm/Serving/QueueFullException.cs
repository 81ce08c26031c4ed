using NanoVlm.Runtime;
namespace NanoVlm.Serving;

/// <summary>The engine's queue is full: the request was not taken and may be retried later.</summary>
public sealed class QueueFullException(int maxQueue)
    : NanoVlmException($"the server is busy: {maxQueue} requests are already waiting; retry later");
