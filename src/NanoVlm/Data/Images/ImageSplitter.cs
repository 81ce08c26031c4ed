using TorchSharp;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// nanoVLM's current image pipeline (<c>DynamicResize</c>, <c>ToTensor</c>, <c>GlobalAndSplitImages</c>): a PIL bicubic resize
/// of the 8-bit image so both sides are multiples of the tile size, <c>/255</c>, cut into tiles row-major; when the grid is
/// not 1x1 and <c>globalTile</c> is set, the whole resized image shrunk to one tile (torchvision's antialiased
/// bilinear tensor resize) goes first.
/// </summary>
public sealed class ImageSplitter
{
    readonly int tileSize;
    readonly int maxImageSize;
    readonly bool resizeToMaxSideLen;
    readonly bool globalTile;

    public ImageSplitter(int tileSize, int maxImageSize, bool resizeToMaxSideLen, bool globalTile)
    {
        if (tileSize <= 0) throw new NanoVlmException($"vit_img_size {tileSize} must be positive");
        if (maxImageSize < tileSize || maxImageSize % tileSize != 0)
            throw new NanoVlmException($"max_img_size {maxImageSize} must be a positive multiple of vit_img_size {tileSize}");
        (this.tileSize, this.maxImageSize, this.resizeToMaxSideLen, this.globalTile) = (tileSize, maxImageSize, resizeToMaxSideLen, globalTile);
    }

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

    public SplitImage Split(RgbImage image)
    {
        var (height, width) = ResizedSize(image.Height, image.Width);
        var resized = PilResize.Resize(image, width, height, PilFilter.Bicubic);
        var (rows, cols) = (height / tileSize, width / tileSize);
        using var scope = NewDisposeScope();
        var chw = tensor(resized.Pixels, [height, width, 3], ScalarType.Byte).permute(2, 0, 1).to_type(ScalarType.Float32).div_(255f);
        var tiles = chw.view(3, rows, tileSize, cols, tileSize).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, tileSize, tileSize);
        if (globalTile && rows * cols > 1)
        {
            var whole = nn.functional.interpolate(chw.unsqueeze(0), [tileSize, tileSize], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
            tiles = cat([whole, tiles], 0);
        }
        return new SplitImage(tiles.contiguous().MoveToOuterDisposeScope(), rows, cols);
    }
}
