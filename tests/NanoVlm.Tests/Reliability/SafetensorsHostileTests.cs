using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Reliability;

/// <summary>Hostile safetensors files: every header field lies in some way; each is refused before any tensor is allocated.</summary>
public sealed class SafetensorsHostileTests : IDisposable
{
    readonly TempDir _dir = new();

    static byte[] File(string header, int dataBytes = 16, ulong? declaredLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    static string Entry(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\": {{\"dtype\": \"{dtype}\", \"shape\": {shape}, \"data_offsets\": {offsets}}}";

    public static TheoryData<string, byte[], string> Cases => new()
    {
        { "empty file", [], "too short" },
        { "shorter than the length prefix", [1, 2, 3], "too short" },
        { "header length over the cap", File("{}", declaredLength: SafetensorsFile.MaxHeaderBytes + 1), "exceeds the" },
        { "header length 2^64-1", File("{}", declaredLength: ulong.MaxValue), "exceeds the" },
        { "header length past the end of the file", File("{}", dataBytes: 0, declaredLength: 1000), "beyond the end of the file" },
        { "malformed JSON", File("{\"a\": {\"dtype\": "), "not valid JSON" },
        { "deeply nested JSON", File(new string('[', 10_000) + new string(']', 10_000)), "not valid JSON" },
        { "deeply nested entry", File("{\"a\": {\"dtype\": [[[[[[[[[[\"F32\"]]]]]]]]]]}}"), "not valid JSON" },
        { "invalid UTF-8", File("{\"\u00ff\": 1}").Select((b, i) => i == 10 ? (byte)0xff : b).ToArray(), "not valid JSON" },
        { "top level array", File("[1, 2]"), "not a JSON object" },
        { "entry is a number", File("{\"a\": 5}"), "entry 'a' is not an object" },
        { "no dtype", File("{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}"), "has no dtype" },
        { "unsupported dtype", File("{" + Entry("a", "F8_E4M3", "[1]", "[0, 1]") + "}"), "unsupported dtype" },
        { "no shape", File("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}"), "has no shape" },
        { "rank over 8", File("{" + Entry("a", "U8", "[1,1,1,1,1,1,1,1,1]", "[0, 1]") + "}"), "rank 9" },
        { "negative dimension", File("{" + Entry("a", "F32", "[-1]", "[0, 4]") + "}"), "invalid dimension -1" },
        { "fractional dimension", File("{" + Entry("a", "F32", "[1.5]", "[0, 4]") + "}"), "invalid dimension 1.5" },
        { "string dimension", File("{" + Entry("a", "F32", "[\"4\"]", "[0, 4]") + "}"), "invalid dimension" },
        { "shape product overflows", File("{" + Entry("a", "F32", "[4294967296, 4294967296]", "[0, 4]") + "}"), "overflows" },
        { "byte count overflows", File("{" + Entry("a", "F64", "[2305843009213693952]", "[0, 4]") + "}"), "overflows" },
        { "byte count disagrees with shape", File("{" + Entry("a", "F32", "[3]", "[0, 8]") + "}"), "= 12 bytes but its data_offsets span 8" },
        { "dtype size disagrees", File("{" + Entry("a", "F64", "[2]", "[0, 8]") + "}"), "= 16 bytes" },
        { "offsets out of range", File("{" + Entry("a", "F32", "[4]", "[8, 24]") + "}"), "outside the data section" },
        { "offsets negative", File("{" + Entry("a", "F32", "[1]", "[-4, 0]") + "}"), "outside the data section" },
        { "offsets reversed", File("{" + Entry("a", "F32", "[0]", "[8, 4]") + "}"), "outside the data section" },
        { "offsets are strings", File("{" + Entry("a", "F32", "[1]", "[\"0\", \"4\"]") + "}"), "invalid data_offsets" },
        { "offsets huge", File("{" + Entry("a", "F32", "[1]", "[0, 1e300]") + "}"), "invalid data_offsets" },
        { "three offsets", File("{" + Entry("a", "F32", "[1]", "[0, 4, 8]") + "}"), "invalid data_offsets" },
        { "overlapping tensors", File("{" + Entry("a", "F32", "[2]", "[0, 8]") + ", " + Entry("b", "F32", "[2]", "[4, 12]") + "}"), "overlaps" },
        { "same range twice", File("{" + Entry("a", "F32", "[2]", "[0, 8]") + ", " + Entry("b", "F32", "[2]", "[0, 8]") + "}"), "overlaps" },
        { "duplicate tensor name", File("{" + Entry("a", "F32", "[1]", "[0, 4]") + ", " + Entry("a", "F32", "[1]", "[4, 8]") + "}"), "appears twice" },
        { "metadata not an object", File("{\"__metadata__\": [1]}"), "__metadata__ is not an object" },
        { "metadata value not a string", File("{\"__metadata__\": {\"format\": 5}}"), "is not a string" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Hostile_headers_are_refused_with_one_line_naming_the_file(string name, byte[] bytes, string problem)
    {
        var path = _dir[$"{name.Replace(' ', '-')}.safetensors"];
        System.IO.File.WriteAllBytes(path, bytes);
        HostileInput.Refused(() => OpenAndLoadAll(path), path, problem);
    }

    [Fact]
    public void Truncated_data_is_refused_at_every_cut()
    {
        var good = _dir["good.safetensors"];
        using (var a = arange(0, 64, float32).reshape(8, 8))
        using (var b = ones(5, dtype: int64))
            SafetensorsFile.Save(good, [new("a", a), new("b", b)]);
        var bytes = System.IO.File.ReadAllBytes(good);
        foreach (var cut in new[] { 0, 4, 8, 9, 40, bytes.Length - 300, bytes.Length - 1 })
        {
            var path = _dir[$"cut-{cut}.safetensors"];
            System.IO.File.WriteAllBytes(path, bytes[..cut]);
            HostileInput.Refused(() => OpenAndLoadAll(path), path);
        }
    }

    /// <summary>Files the fuzzer found or that were crafted by hand: all must be refused (or load) without any other exception.</summary>
    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_files_never_crash_the_reader(string file)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("safetensors"), file);
        try { OpenAndLoadAll(path); }
        catch (NanoVlmException e) { Assert.DoesNotContain('\n', e.Message); Assert.Contains(path, e.Message); }
    }

    public static TheoryData<string> CorpusFiles => HostileInput.Corpus("safetensors");

    static void OpenAndLoadAll(string path)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var name in file.Entries.Keys) file.Load(name).Dispose();
    }

    public void Dispose() => _dir.Dispose();
}
