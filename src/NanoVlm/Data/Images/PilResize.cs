namespace NanoVlm.Data;

/// <summary>
/// Pillow's <c>Image.resize</c> on 8-bit RGB, byte for byte: a separable convolution whose support grows with the
/// downscale factor (antialiasing), weights normalised per output pixel and rounded to fixed point, a horizontal pass
/// rounded to 8 bits, then a vertical pass. A dimension that keeps its size is not resampled.
/// </summary>
public static class PilResize
{
    const int PrecisionBits = 32 - 8 - 2;
    const double BicubicA = -0.5;

    public static RgbImage Resize(RgbImage image, int width, int height, PilFilter filter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (image.Width <= 0 || image.Height <= 0 || image.Pixels.Length != (long)image.Width * image.Height * 3)
            throw new ArgumentException($"{image.Width}x{image.Height} RGB image has {image.Pixels.Length} bytes", nameof(image));

        var pixels = image.Pixels;
        if (width != image.Width)
            pixels = ResampleRows(pixels, image.Width, image.Height, Coefficients.For(image.Width, width, filter));
        if (height != image.Height)
            pixels = ResampleColumns(pixels, width, Coefficients.For(image.Height, height, filter));
        return new RgbImage(width, height, pixels == image.Pixels ? (byte[])pixels.Clone() : pixels);
    }

    static byte[] ResampleRows(byte[] input, int inWidth, int rows, Coefficients c)
    {
        var outWidth = c.OutSize;
        var output = new byte[outWidth * rows * 3];
        for (var y = 0; y < rows; y++)
        {
            var row = y * inWidth * 3;
            for (var xx = 0; xx < outWidth; xx++)
            {
                var (first, count, k) = (c.First[xx], c.Count[xx], xx * c.KernelSize);
                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                for (var x = 0; x < count; x++)
                {
                    var p = row + (first + x) * 3;
                    var w = c.Weights[k + x];
                    r += input[p] * w;
                    g += input[p + 1] * w;
                    b += input[p + 2] * w;
                }
                var o = (y * outWidth + xx) * 3;
                (output[o], output[o + 1], output[o + 2]) = (Clip8(r), Clip8(g), Clip8(b));
            }
        }
        return output;
    }

    static byte[] ResampleColumns(byte[] input, int width, Coefficients c)
    {
        var stride = width * 3;
        var output = new byte[c.OutSize * stride];
        var sums = new int[stride];
        for (var yy = 0; yy < c.OutSize; yy++)
        {
            Array.Fill(sums, 1 << (PrecisionBits - 1));
            for (var y = 0; y < c.Count[yy]; y++)
            {
                var (row, w) = ((c.First[yy] + y) * stride, c.Weights[yy * c.KernelSize + y]);
                for (var i = 0; i < stride; i++) sums[i] += input[row + i] * w;
            }
            for (var i = 0; i < stride; i++) output[yy * stride + i] = Clip8(sums[i]);
        }
        return output;
    }

    static byte Clip8(int value) => (byte)Math.Clamp(value >> PrecisionBits, 0, 255);

    /// <summary>Per output position: the first input index, how many inputs contribute, and their fixed-point weights.</summary>
    sealed record Coefficients(int OutSize, int KernelSize, int[] First, int[] Count, int[] Weights)
    {
        public static Coefficients For(int inSize, int outSize, PilFilter filter)
        {
            var (kernel, filterSupport) = filter switch
            {
                PilFilter.Bilinear => ((Func<double, double>)Bilinear, 1.0),
                PilFilter.Bicubic => (Bicubic, 2.0),
                _ => throw new ArgumentOutOfRangeException(nameof(filter)),
            };
            var scale = (double)inSize / outSize;
            var filterScale = Math.Max(scale, 1.0);
            var support = filterSupport * filterScale;
            var kernelSize = (int)Math.Ceiling(support) * 2 + 1;
            var (first, count, weights) = (new int[outSize], new int[outSize], new int[outSize * kernelSize]);
            var k = new double[kernelSize];
            for (var xx = 0; xx < outSize; xx++)
            {
                var center = (xx + 0.5) * scale;
                var ss = 1.0 / filterScale;
                var xmin = Math.Max((int)(center - support + 0.5), 0);
                var xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
                var total = 0.0;
                for (var x = 0; x < xmax; x++)
                {
                    k[x] = kernel((x + xmin - center + 0.5) * ss);
                    total += k[x];
                }
                for (var x = 0; x < xmax; x++)
                {
                    var w = total != 0.0 ? k[x] / total : k[x];
                    weights[xx * kernelSize + x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
                }
                (first[xx], count[xx]) = (xmin, xmax);
            }
            return new Coefficients(outSize, kernelSize, first, count, weights);
        }

        static double Bilinear(double x)
        {
            x = Math.Abs(x);
            return x < 1.0 ? 1.0 - x : 0.0;
        }

        static double Bicubic(double x)
        {
            x = Math.Abs(x);
            if (x < 1.0) return ((BicubicA + 2.0) * x - (BicubicA + 3.0)) * x * x + 1;
            if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * BicubicA;
            return 0.0;
        }
    }
}
