using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Reliability;

/// <summary>Every reader refuses a FIFO (which would block it forever) and a device like /dev/zero (which never ends) before opening it.</summary>
public sealed class SpecialFileReaderTests : IDisposable
{
    readonly TempDir _dir = new();

    public static TheoryData<string> Readers() => ["image", "safetensors", "config", "tokenizer", "jsonl"];

    static void Read(string reader, string path)
    {
        switch (reader)
        {
            case "image": new ImageProcessor(16).ProcessFile(path).Dispose(); break;
            case "safetensors": SafetensorsFile.Open(path).Dispose(); break;
            case "config": VlmConfig.Load(path); break;
            case "tokenizer": Tokenizer.Load(path).Dispose(); break;
            case "jsonl": _ = new JsonlDataset(path); break;
        }
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_fifo_is_refused_without_blocking(string reader)
    {
        var fifo = SpecialFiles.Fifo(_dir[$"{reader}.fifo"]);
        SpecialFiles.Within10Seconds(() => HostileInput.Refused(() => Read(reader, fifo), fifo, "a FIFO"), fifo);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void Dev_zero_is_refused_without_reading(string reader) =>
        SpecialFiles.Within10Seconds(() => HostileInput.Refused(() => Read(reader, "/dev/zero"), "/dev/zero", "a character device"));

    [Theory]
    [InlineData("config", RegularFile.MaxConfigBytes)]
    [InlineData("tokenizer", Tokenizer.MaxFileBytes)]
    [InlineData("jsonl", JsonlDataset.MaxFileBytes)]
    public void A_file_over_its_cap_is_refused_before_reading(string reader, long cap)
    {
        var path = _dir[$"big.{reader}"];
        using (var f = File.Create(path)) f.SetLength(cap + 1); // sparse: nothing is written
        HostileInput.Refused(() => Read(reader, path), path, "over the limit");
    }

    [Fact]
    public void A_jsonl_line_without_end_is_refused_at_the_line_cap()
    {
        var path = _dir["one-line.jsonl"];
        File.WriteAllText(path, "{\"conversations\": [{\"user\": \"" + new string('a', JsonlDataset.MaxLineChars) + "\"}]}");
        HostileInput.Refused(() => Read("jsonl", path), $"{path} line 1", "longer than");
    }

    public void Dispose() => _dir.Dispose();
}
