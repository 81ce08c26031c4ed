namespace NanoVlm.Data;

/// <summary>A decoded 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B).</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels);
