namespace NanoVlm.Benchmarks;

/// <summary>One client count of <see cref="ServeBench"/>: throughput, latency and time to first token percentiles, and the mean batch.</summary>
public sealed record ServeBenchRow(int Clients, int Requests, int Failed, double Seconds, double RequestsPerS, double TokensPerS,
    double LatencyP50S, double LatencyP95S, double FirstTokenP50S, double FirstTokenP95S, double MeanBatch);
