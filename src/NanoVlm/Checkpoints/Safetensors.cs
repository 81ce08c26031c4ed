using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Checkpoints;

/// <summary>One tensor's header entry: dtype name, shape and byte range within the data section.</summary>
public sealed record SafetensorsEntry(string Dtype, long[] Shape, long Begin, long End);

/// <summary>
/// A hardened reader for the safetensors format (8-byte little-endian header length, JSON header, raw data).
/// Everything in the header is checked before any tensor is allocated: size caps, offsets inside the file,
/// no overlaps, byte counts that match dtype × shape without overflow.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    public const long MaxHeaderBytes = 100 << 20;
    const int MaxRank = 8;

    static readonly Dictionary<string, (ScalarType Type, int Size)> DTypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    readonly FileStream stream;
    readonly long dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafetensorsFile(string path, FileStream stream, long dataStart, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        (Path, this.stream, this.dataStart, Entries, Metadata) = (path, stream, dataStart, entries, metadata);
    }

    public static SafetensorsFile Open(string path)
    {
        FileStream fs;
        try { fs = RegularFile.OpenRead(path, long.MaxValue, "safetensors file", 1 << 20); }
        catch (UnauthorizedAccessException) { throw new NanoVlmException($"{path}: permission denied"); }
        try
        {
            var (dataStart, entries, metadata) = ReadHeader(fs, path);
            return new SafetensorsFile(path, fs, dataStart, entries, metadata);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    static (long, Dictionary<string, SafetensorsEntry>, Dictionary<string, string>) ReadHeader(FileStream fs, string path)
    {
        NanoVlmException Bad(string why) => new($"{path}: invalid safetensors file: {why}");
        var fileLength = fs.Length;
        if (fileLength < 8) throw Bad($"{fileLength} bytes is too short for a header");
        Span<byte> lengthBytes = stackalloc byte[8];
        fs.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes) throw Bad($"header length {headerLength} exceeds the {MaxHeaderBytes} byte limit");
        if ((long)headerLength > fileLength - 8) throw Bad($"header length {headerLength} is beyond the end of the file ({fileLength} bytes)");
        var header = new byte[headerLength];
        fs.ReadExactly(header);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;

        if (!System.Text.Unicode.Utf8.IsValid(header)) throw Bad("header is not valid JSON (invalid UTF-8)");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 4 }); }
        catch (JsonException e) { throw Bad($"header is not valid JSON ({e.Message.Split('\n')[0]})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("header is not a JSON object");

        var entries = new Dictionary<string, SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ is not an object");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"__metadata__ value '{m.Name}' is not a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            if (entries.ContainsKey(prop.Name)) throw Bad($"tensor '{prop.Name}' appears twice");
            entries[prop.Name] = ParseEntry(prop.Name, prop.Value, dataLength, Bad);
        }

        SafetensorsEntry? previous = null;
        foreach (var (name, e) in entries.OrderBy(kv => kv.Value.Begin).ThenBy(kv => kv.Value.End))
        {
            if (previous is not null && e.Begin < previous.End && e.End > e.Begin)
                throw Bad($"tensor '{name}' overlaps another tensor's bytes");
            if (e.End > e.Begin) previous = e;
        }
        return (dataStart, entries, metadata);
    }

    static SafetensorsEntry ParseEntry(string name, JsonElement v, long dataLength, Func<string, NanoVlmException> bad)
    {
        if (v.ValueKind != JsonValueKind.Object) throw bad($"entry '{name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw bad($"tensor '{name}' has no dtype");
        var dtype = dt.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var info)) throw bad($"tensor '{name}' has unsupported dtype '{dtype}'");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw bad($"tensor '{name}' has no shape");
        if (sh.GetArrayLength() > MaxRank) throw bad($"tensor '{name}' has rank {sh.GetArrayLength()} (at most {MaxRank})");
        var shape = new long[sh.GetArrayLength()];
        long count = 1;
        var i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var n) || n < 0)
                throw bad($"tensor '{name}' has an invalid dimension {d.GetRawText()}");
            shape[i++] = n;
            try { count = checked(count * n); }
            catch (OverflowException) { throw bad($"tensor '{name}' shape [{string.Join(", ", shape[..i])}...] overflows"); }
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out var begin) || !off[1].TryGetInt64(out var end))
            throw bad($"tensor '{name}' has invalid data_offsets");
        if (begin < 0 || end < begin || end > dataLength)
            throw bad($"tensor '{name}' data_offsets [{begin}, {end}] are outside the data section ({dataLength} bytes)");
        long bytes;
        try { bytes = checked(count * info.Size); }
        catch (OverflowException) { throw bad($"tensor '{name}' byte size overflows"); }
        if (end - begin != bytes)
            throw bad($"tensor '{name}' is {dtype} [{string.Join(", ", shape)}] = {bytes} bytes but its data_offsets span {end - begin}");
        return new SafetensorsEntry(dtype, shape, begin, end);
    }

    /// <summary>Reads one tensor in its stored dtype, on the CPU.</summary>
    public Tensor Load(string name)
    {
        if (!Entries.TryGetValue(name, out var e)) throw new NanoVlmException($"{Path}: no tensor '{name}'");
        var t = empty(e.Shape, DTypes[e.Dtype].Type);
        try
        {
            stream.Seek(dataStart + e.Begin, SeekOrigin.Begin);
            stream.ReadExactly(t.bytes);
            return t;
        }
        catch (EndOfStreamException)
        {
            t.Dispose();
            throw new NanoVlmException($"{Path}: truncated while reading tensor '{name}'");
        }
    }

    public void Dispose() => stream.Dispose();

    /// <summary>Writes tensors (sorted by name, CPU, contiguous) with optional string metadata, atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, t) in ordered)
        {
            var dtype = DTypes.First(d => d.Value.Type == t.dtype).Key;
            var bytes = t.numel() * DTypes[dtype].Size;
            header[name] = new { dtype, shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8; // data starts 8-byte aligned, padded with spaces as the reference does
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(json);
            for (var i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
            foreach (var (_, t) in ordered)
            {
                using var cpu = t.detach().cpu().contiguous();
                s.Write(cpu.bytes);
            }
        });
    }
}
