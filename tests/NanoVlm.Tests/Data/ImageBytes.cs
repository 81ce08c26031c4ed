using SkiaSharp;

namespace NanoVlm.Tests.Data;

/// <summary>Encodes test images: SkiaSharp for PNG/JPEG/WebP, hand-written BMP and GIF, hand-crafted headers.</summary>
static class ImageBytes
{
    /// <summary>A deterministic RGB test pattern (gradients, a hard edge and noise).</summary>
    public static byte[] Pattern(int width, int height, int seed = 1)
    {
        var rng = new Random(seed);
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                rgb[i] = (byte)(255 * x / Math.Max(1, width - 1));
                rgb[i + 1] = (byte)(x > width / 2 ? 200 : 30);
                rgb[i + 2] = (byte)rng.Next(256);
            }
        return rgb;
    }

    public static byte[] Encode(byte[] rgb, int width, int height, SKEncodedImageFormat format, int quality = 100, byte[]? alpha = null)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var rgba = new byte[width * height * 4];
        for (var p = 0; p < width * height; p++)
        {
            rgba[p * 4] = rgb[p * 3];
            rgba[p * 4 + 1] = rgb[p * 3 + 1];
            rgba[p * 4 + 2] = rgb[p * 3 + 2];
            rgba[p * 4 + 3] = alpha?[p] ?? 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] EncodeGray(byte[] gray, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(gray, 0, bitmap.GetPixels(), gray.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A 24-bit bottom-up BMP.</summary>
    public static byte[] Bmp(byte[] rgb, int width, int height)
    {
        var stride = (width * 3 + 3) & ~3;
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write((byte)'B'); w.Write((byte)'M');
        w.Write(54 + stride * height); w.Write(0); w.Write(54);
        w.Write(40); w.Write(width); w.Write(height); w.Write((short)1); w.Write((short)24);
        w.Write(0); w.Write(stride * height); w.Write(2835); w.Write(2835); w.Write(0); w.Write(0);
        for (var y = height - 1; y >= 0; y--)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                w.Write(rgb[i + 2]); w.Write(rgb[i + 1]); w.Write(rgb[i]);
            }
            for (var p = width * 3; p < stride; p++) w.Write((byte)0);
        }
        return ms.ToArray();
    }

    /// <summary>A GIF with a 256-colour palette and one frame per index array (LZW with 9-bit codes, clearing often).</summary>
    public static byte[] Gif(byte[] palette, int width, int height, params byte[][] frames)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write("GIF89a"u8.ToArray());
        w.Write((short)width); w.Write((short)height); w.Write((byte)0xF7); w.Write((byte)0); w.Write((byte)0);
        var table = new byte[768];
        palette.CopyTo(table, 0);
        w.Write(table);
        foreach (var frame in frames)
        {
            w.Write([0x21, 0xF9, 4, 0, 10, 0, 0, 0]);
            w.Write((byte)0x2C); w.Write((short)0); w.Write((short)0); w.Write((short)width); w.Write((short)height); w.Write((byte)0);
            w.Write((byte)8);
            var codes = new List<int> { 256 };
            for (var i = 0; i < frame.Length; i++)
            {
                if (i > 0 && i % 200 == 0) codes.Add(256);
                codes.Add(frame[i]);
            }
            codes.Add(257);
            var bytes = new List<byte>();
            int acc = 0, bits = 0;
            foreach (var code in codes)
            {
                acc |= code << bits;
                bits += 9;
                while (bits >= 8) { bytes.Add((byte)acc); acc >>= 8; bits -= 8; }
            }
            if (bits > 0) bytes.Add((byte)acc);
            for (var o = 0; o < bytes.Count; o += 255)
            {
                var n = Math.Min(255, bytes.Count - o);
                w.Write((byte)n);
                w.Write(bytes.GetRange(o, n).ToArray());
            }
            w.Write((byte)0);
        }
        w.Write((byte)0x3B);
        return ms.ToArray();
    }

    /// <summary>A small PNG claiming <paramref name="width"/> x <paramref name="height"/>: IHDR, one short compressed IDAT, IEND.</summary>
    public static byte[] PngHeader(int width, int height)
    {
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(0), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2;
        var idat = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(idat, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) z.Write(new byte[4096]);
        var output = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 };
        Chunk(output, "IHDR", ihdr);
        Chunk(output, "IDAT", idat.ToArray());
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    static void Chunk(List<byte> output, string type, byte[] data)
    {
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.AddRange(length);
        output.AddRange(body);
        var crc = Crc32(body);
        output.AddRange([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
    }

    /// <summary>Inserts an EXIF APP1 segment holding only an orientation tag right after a JPEG's SOI marker.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        byte[] app1 =
        [
            0xFF, 0xE1, 0, 34, (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0,
            (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8,
            0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte)orientation, 0, 0,
            0, 0, 0, 0,
        ];
        return [.. jpeg[..2], .. app1, .. jpeg[2..]];
    }

    static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
