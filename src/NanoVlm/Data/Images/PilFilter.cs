namespace NanoVlm.Data;

/// <summary>The resampling filters of Pillow's <c>Image.resize</c> that <see cref="PilResize"/> reproduces.</summary>
public enum PilFilter
{
    Bilinear,
    Bicubic,
}
