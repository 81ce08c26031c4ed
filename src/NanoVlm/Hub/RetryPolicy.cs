namespace NanoVlm.Hub;

/// <summary>Retries of requests that failed with 429, a 5xx, a timeout or a dropped connection: exponential backoff from <see cref="InitialDelay"/>, capped at <see cref="MaxDelay"/>.</summary>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan InitialDelay, TimeSpan MaxDelay)
{
    public static RetryPolicy Default { get; } = new(5, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

    /// <summary>The wait before attempt <paramref name="attempt"/>+1 (attempts count from 1); a server's Retry-After wins when it is shorter than the cap.</summary>
    public TimeSpan Delay(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } after)
            return after < MaxDelay ? after : MaxDelay;
        var backoff = InitialDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        return TimeSpan.FromMilliseconds(Math.Min(backoff, MaxDelay.TotalMilliseconds));
    }
}
