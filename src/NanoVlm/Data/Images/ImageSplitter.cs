using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// nanoVLM's current image pipeline (<c>DynamicResize</c>, <c>ToTensor</c>, <c>GlobalAndSplitImages</c>): a PIL bicubic resize
/// of the 8-bit image so both sides are multiples of the tile size, <c>/255</c>, cut into tiles row-major; when the grid is
/// not 1x1 and <c>globalTile</c> is set, the whole resized image shrunk to one tile (torchvision's antialiased
/// bilinear tensor resize) goes first. This part sizes the grid (no libtorch: NanoVlm.Onnx compiles it too); the tiles are cut in
/// ImageSplitter.Tensors.cs.
/// </summary>
public sealed partial class ImageSplitter
{
    readonly int tileSize;
    readonly int maxImageSize;
    readonly bool resizeToMaxSideLen;

    public ImageSplitter(int tileSize, int maxImageSize, bool resizeToMaxSideLen, bool globalTile)
    {
        if (tileSize <= 0) throw new NanoVlmException($"vit_img_size {tileSize} must be positive");
        if (maxImageSize < tileSize || maxImageSize % tileSize != 0)
            throw new NanoVlmException($"max_img_size {maxImageSize} must be a positive multiple of vit_img_size {tileSize}");
        (this.tileSize, this.maxImageSize, this.resizeToMaxSideLen, GlobalTile) = (tileSize, maxImageSize, resizeToMaxSideLen, globalTile);
    }

    /// <summary>Whether a split image gets the whole image shrunk to one tile first.</summary>
    public bool GlobalTile { get; }

    /// <summary>
    /// The size an image is resized to: the long side to the maximum (or, without <c>resizeToMaxSideLen</c>, rounded up to a
    /// tile multiple, capped there), the short side scaled alike and rounded up to a tile multiple, at least one tile.
    /// A square image counts as landscape. Computed in doubles, as nanoVLM does in Python.
    /// </summary>
    public (int Height, int Width) ResizedSize(int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        var landscape = width >= height;
        var (longSide, shortSide) = landscape ? (width, height) : (height, width);
        var targetLong = resizeToMaxSideLen ? maxImageSize : Math.Min(maxImageSize, (int)Math.Ceiling((double)longSide / tileSize) * tileSize);
        var scale = (double)targetLong / longSide;
        var targetShort = Math.Max((int)Math.Ceiling(shortSide * scale / tileSize) * tileSize, tileSize);
        return landscape ? (targetShort, targetLong) : (targetLong, targetShort);
    }
}
