using NanoVlm.Data;
using Parquet.Schema;
using static NanoVlm.Tests.Data.ParquetFixtures;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Reliability;

/// <summary>Hostile parquet files for the Cauldron and MMStar readers: truncated, corrupt, lying footers, wrong schemas.</summary>
public sealed class ParquetHostileTests : IDisposable
{
    readonly TempDir _dir = new();

    byte[] GoodCauldron()
    {
        var path = _dir["good.parquet"];
        var png = Data.ImageBytes.Encode(Data.ImageBytes.Pattern(8, 8), 8, 8, SkiaSharp.SKEncodedImageFormat.Png);
        Write(path, Cauldron, Enumerable.Range(0, 6).Select(i => (IDictionary<string, object?>)CauldronRow([png], ($"q{i}", $"a{i}"))).ToList(), 3);
        return File.ReadAllBytes(path);
    }

    static void ReadEverything(IVqaDataset ds)
    {
        for (var g = 0; g < ds.GroupStarts.Count; g++)
        {
            var end = g + 1 < ds.GroupStarts.Count ? ds.GroupStarts[g + 1] : ds.Count;
            _ = ds.ReadGroupRows(g, Enumerable.Range(ds.GroupStarts[g], end - ds.GroupStarts[g]).ToList()).ToList();
        }
    }

    [Fact]
    public void Truncated_and_corrupt_files_are_refused_naming_the_file()
    {
        var good = GoodCauldron();
        var cases = new Dictionary<string, byte[]>
        {
            ["empty"] = [],
            ["magic-only"] = "PAR1"u8.ToArray(),
            ["head"] = good[..100],
            ["half"] = good[..(good.Length / 2)],
            ["no-trailing-magic"] = good[..^4],
            ["no-footer"] = good[..^8],
            ["garbage"] = Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 % 251)).ToArray(),
            // A footer length of 2 GB: must be refused, not allocated.
            ["huge-footer-length"] = [.. "PAR1"u8, .. new byte[64], 0xff, 0xff, 0xff, 0x7f, .. "PAR1"u8],
            ["footer-zeroed"] = [.. good[..^200], .. new byte[192], .. good[^8..]],
        };
        foreach (var (name, bytes) in cases)
        {
            var path = _dir[$"{name}.parquet"];
            File.WriteAllBytes(path, bytes);
            HostileInput.Refused(() => ReadEverything(CauldronDataset.Open(path)), path);
            HostileInput.Refused(() => ReadEverything(MmStarDataset.Open(path)), path);
        }
    }

    [Fact]
    public void Corrupt_data_pages_are_refused_or_read_never_crashing()
    {
        var good = GoodCauldron();
        for (var offset = 4; offset < good.Length - 200; offset += 53)
        {
            var bytes = (byte[])good.Clone();
            for (var i = 0; i < 8; i++) bytes[offset + i] ^= 0x5a;
            var path = _dir[$"flip-{offset}.parquet"];
            File.WriteAllBytes(path, bytes);
            try { ReadEverything(CauldronDataset.Open(path)); }
            catch (NanoVlmException e) { Assert.DoesNotContain('\n', e.Message); Assert.Contains(path, e.Message); }
        }
    }

    [Fact]
    public void Wrong_schemas_are_refused_naming_the_column()
    {
        var cauldron = _dir["strings.parquet"];
        Write(cauldron, new ParquetSchema(new DataField<string>("images"), new DataField<string>("texts")),
            [new Dictionary<string, object?> { ["images"] = "x", ["texts"] = "y" }], 10);
        HostileInput.Refused(() => CauldronDataset.Open(cauldron), cauldron, "column 'images'");

        var mmstar = _dir["mmstar.parquet"];
        Write(mmstar, new ParquetSchema(new DataField<string>("question"), new DataField<string>("image"), new DataField<string>("answer"),
                new DataField<string>("category"), new DataField<string>("l2_category")),
            [new Dictionary<string, object?> { ["question"] = "q", ["image"] = "not a struct", ["answer"] = "A", ["category"] = "c", ["l2_category"] = "d" }], 10);
        HostileInput.Refused(() => MmStarDataset.Open(mmstar), mmstar, "column 'image'");

        var missing = _dir["missing.parquet"];
        Write(missing, new ParquetSchema(new DataField<int>("other")), [new Dictionary<string, object?> { ["other"] = 1 }], 10);
        HostileInput.Refused(() => CauldronDataset.Open(missing), missing, "missing column");
    }

    public void Dispose() => _dir.Dispose();
}
