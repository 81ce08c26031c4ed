namespace NanoVlm.Generation;

/// <summary>One request's decoding failed (its scores were not finite, or sampling from them failed); the others go on.</summary>
public sealed class DecodeFailedException(string message) : Exception(message);
