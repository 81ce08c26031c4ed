using NanoVlm.Runtime;
namespace NanoVlm.Data;

/// <summary>
/// Packing several samples into one row of up to lm_max_length tokens (nanoVLM's ConstantLengthDataset; defaults are its
/// train config's). Samples of <see cref="MaxSampleLength"/> tokens or more, or with more than <see cref="MaxImagesPerSample"/>
/// images, are dropped and counted.
/// </summary>
public sealed record PackingOptions
{
    public int MaxSampleLength { get; init; } = 4096;
    public int MaxImagesPerPack { get; init; } = 18;
    public int MaxImagesPerSample { get; init; } = 4;

    public void Validate()
    {
        if (MaxSampleLength <= 1) throw NanoVlmException.For(nameof(MaxSampleLength), $"must be > 1, got {MaxSampleLength}");
        if (MaxImagesPerPack <= 0) throw NanoVlmException.For(nameof(MaxImagesPerPack), $"must be > 0, got {MaxImagesPerPack}");
        if (MaxImagesPerSample <= 0 || MaxImagesPerSample > MaxImagesPerPack)
            throw NanoVlmException.For(nameof(MaxImagesPerSample), $"must be in 1..{MaxImagesPerPack} (the images a pack holds), got {MaxImagesPerSample}");
    }
}
