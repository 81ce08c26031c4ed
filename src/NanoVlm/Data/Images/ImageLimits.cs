namespace NanoVlm.Data;

/// <summary>
/// Refusal thresholds checked before an image is decoded (decompression bombs): encoded size and pixel count from the header; and
/// the pixels one processor decodes at once across data workers (see <see cref="PixelBudget"/>).
/// </summary>
public sealed record ImageLimits(long MaxFileBytes = 64L << 20, long MaxPixels = 64_000_000, long MaxPixelsInFlight = 64_000_000)
{
    public static readonly ImageLimits Default = new();
}
