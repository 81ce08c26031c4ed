namespace NanoVlm.Data;

/// <summary>
/// Bounds the pixels being decoded at once across data workers. Each decode holds its image's pixel count (read from the header)
/// until its RGB image is made, about 10 bytes a pixel at the peak, so workers meeting huge images wait for each other instead of
/// multiplying the peak. An image larger than the whole budget takes all of it.
/// </summary>
public sealed class PixelBudget(long capacity)
{
    readonly object _gate = new();
    long _free = capacity;

    public long Capacity { get; } = capacity;

    /// <summary>Waits until <paramref name="pixels"/> are free and holds them until the returned lease is disposed.</summary>
    public IDisposable Acquire(long pixels)
    {
        var take = Math.Clamp(pixels, 0, Capacity);
        lock (_gate)
        {
            while (_free < take) Monitor.Wait(_gate);
            _free -= take;
        }
        return new Lease(this, take);
    }

    void Release(long pixels)
    {
        lock (_gate)
        {
            _free += pixels;
            Monitor.PulseAll(_gate);
        }
    }

    sealed class Lease(PixelBudget budget, long pixels) : IDisposable
    {
        int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) budget.Release(pixels);
        }
    }
}
