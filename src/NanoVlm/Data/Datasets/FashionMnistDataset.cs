using System.Buffers.Binary;
using System.IO.Compression;
using NanoVlm.Runtime;

namespace NanoVlm.Data;

/// <summary>
/// Fashion-MNIST as VQA: each 28x28 grayscale image (converted to RGB; the image processor resizes it to <c>vit_img_size</c>) is
/// one sample with three turns: "What is this?" -> the class answer, "Is this footwear?" -> yes/no, "What category is this?" ->
/// clothing/footwear/bag. The turn order rotates with the row, so every question is also asked first (a model only ever asked
/// "What is this?" first answers any opening question with a class name). Class answers are single words: tshirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, boot.
/// </summary>
public sealed class FashionMnistDataset : IVqaDataset
{
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";
    public static readonly IReadOnlyList<string> ClassAnswers = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"];
    public const string WhatIsThis = "What is this?";

    readonly byte[] _pixels;
    readonly byte[] _labels;

    FashionMnistDataset(string name, byte[] pixels, byte[] labels) => (Name, _pixels, _labels) = (name, pixels, labels);

    public string Name { get; }
    public int Count => _labels.Length;
    public IReadOnlyList<int> GroupStarts { get; } = [0];
    public SkipCounter Skipped { get; } = new();
    public int Label(int row) => _labels[row];

    /// <summary>Loads the <c>train</c> or <c>test</c> split (<c>train-images-idx3-ubyte[.gz]</c>, <c>t10k-...</c>) from <paramref name="folder"/>.</summary>
    public static FashionMnistDataset Load(string? folder, bool train)
    {
        folder ??= DefaultFolder;
        var prefix = train ? "train" : "t10k";
        var images = ReadIdx(Find(folder, $"{prefix}-images-idx3-ubyte"), 3);
        var labels = ReadIdx(Find(folder, $"{prefix}-labels-idx1-ubyte"), 1);
        if (images.Dims[1] != 28 || images.Dims[2] != 28) throw new NanoVlmException($"{folder}: Fashion-MNIST images are not 28x28");
        if (images.Dims[0] != labels.Dims[0]) throw new NanoVlmException($"{folder}: {images.Dims[0]} images but {labels.Dims[0]} labels");
        if (labels.Data.Any(l => l > 9)) throw new NanoVlmException($"{folder}: label outside 0-9");
        return new FashionMnistDataset($"fashion-mnist:{folder} ({prefix})", images.Data, labels.Data);
    }

    public static IReadOnlyList<VqaTurn> Turns(int label)
    {
        var footwear = label is 5 or 7 or 9;
        return
        [
            new VqaTurn(WhatIsThis, ClassAnswers[label]),
            new VqaTurn("Is this footwear?", footwear ? "yes" : "no"),
            new VqaTurn("What category is this?", footwear ? "footwear" : label == 8 ? "bag" : "clothing"),
        ];
    }

    public IEnumerable<(int Row, VqaSample Sample)> ReadGroupRows(int group, IReadOnlyList<int> rows)
    {
        foreach (var row in rows)
        {
            var rgb = new byte[28 * 28 * 3];
            for (var p = 0; p < 28 * 28; p++) rgb.AsSpan(p * 3, 3).Fill(_pixels[row * 784 + p]);
            var source = $"{Name} image {row}";
            var turns = Turns(_labels[row]);
            var first = row % turns.Count;
            yield return (row, new VqaSample([VqaImage.FromPixels(new RgbImage(28, 28, rgb), source)], [.. turns.Skip(first), .. turns.Take(first)], source));
        }
    }

    static string Find(string folder, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz" })
            if (File.Exists(Path.Combine(folder, candidate))) return Path.Combine(folder, candidate);
        throw new NanoVlmException($"{folder}: missing Fashion-MNIST file {name}[.gz]");
    }

    static (int[] Dims, byte[] Data) ReadIdx(string path, int rank)
    {
        using var file = RegularFile.OpenRead(path, long.MaxValue, "Fashion-MNIST file");
        Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var owner = stream;
        var header = new byte[4 + 4 * rank];
        try
        {
            stream.ReadExactly(header);
            if (header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != rank)
                throw new NanoVlmException($"{path}: not an IDX file of unsigned bytes with {rank} dimension(s)");
            var dims = Enumerable.Range(0, rank).Select(i => BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * i))).ToArray();
            var total = dims.Aggregate(1L, (a, d) => a * d);
            if (dims.Any(d => d < 0) || total > 1L << 30) throw new NanoVlmException($"{path}: implausible IDX dimensions {string.Join("x", dims)}");
            var data = new byte[total];
            stream.ReadExactly(data);
            return (dims, data);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw new NanoVlmException($"{path}: truncated or corrupt IDX file");
        }
    }
}
