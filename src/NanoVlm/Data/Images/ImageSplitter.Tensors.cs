using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Data;

public sealed partial class ImageSplitter
{
    public SplitImage Split(RgbImage image)
    {
        var (height, width) = ResizedSize(image.Height, image.Width);
        var resized = PilResize.Resize(image, width, height, PilFilter.Bicubic);
        var (rows, cols) = (height / tileSize, width / tileSize);
        using var scope = NewDisposeScope();
        var chw = tensor(resized.Pixels, [height, width, 3], ScalarType.Byte).permute(2, 0, 1).to_type(ScalarType.Float32).div_(255f);
        var tiles = chw.view(3, rows, tileSize, cols, tileSize).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, tileSize, tileSize);
        if (GlobalTile && rows * cols > 1)
        {
            var whole = nn.functional.interpolate(chw.unsqueeze(0), [tileSize, tileSize], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
            tiles = cat([whole, tiles], 0);
        }
        return new SplitImage(tiles.contiguous().MoveToOuterDisposeScope(), rows, cols);
    }
}
