using System.Runtime.InteropServices;
using System.Text;

namespace NanoVlm.Runtime;

/// <summary>
/// Reads only regular files, and only up to a size cap checked before anything is read: a FIFO would block the reader forever,
/// <c>/dev/zero</c> never ends, and a huge file would be read whole into memory. The type and size come from <c>statx(2)</c>,
/// symlinks followed, so nothing is opened to find out.
/// </summary>
public static partial class RegularFile
{
    const int AtFdCwd = -100, StatxType = 0x1, StatxSize = 0x200, StatxBufferBytes = 256, ModeOffset = 28, SizeOffset = 40;
    const int ENOENT = 2, ENOTDIR = 20;

    /// <summary>The cap on configs and other small JSON files (config.json, tokenizer_config.json, index files, run.json, progress.json).</summary>
    public const long MaxConfigBytes = 16 << 20;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int dirFd, string path, int flags, uint mask, Span<byte> buffer);

    /// <summary>The kind and size of what <paramref name="path"/> names, symlinks followed (<see cref="FileKind.Missing"/> when nothing is there).</summary>
    public static (FileKind Kind, long Size) Stat(string path)
    {
        if (path.Contains('\0')) throw new NanoVlmException($"{path.Replace('\0', '?')}: the path holds a NUL character");
        Span<byte> buffer = stackalloc byte[StatxBufferBytes];
        if (StatX(AtFdCwd, path, 0, StatxType | StatxSize, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR) return (FileKind.Missing, 0);
            throw new NanoVlmException($"{path}: cannot be read ({Marshal.GetPInvokeErrorMessage(errno)})");
        }
        var mode = BitConverter.ToUInt16(buffer[ModeOffset..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            _ => FileKind.Socket,
        };
        return (kind, BitConverter.ToInt64(buffer[SizeOffset..]));
    }

    /// <summary>Throws a one-line error unless <paramref name="path"/> is a regular file of at most <paramref name="maxBytes"/>; returns its size.</summary>
    public static long Require(string path, long maxBytes, string what)
    {
        var (kind, size) = Stat(path);
        if (kind == FileKind.Missing) throw new NanoVlmException($"{path}: {what} not found");
        if (kind != FileKind.Regular) throw new NanoVlmException($"{path}: {what} is {Describe(kind)}, not a regular file");
        if (size > maxBytes) throw new NanoVlmException($"{path}: {what} is {size:N0} bytes, over the limit of {maxBytes:N0}");
        return size;
    }

    /// <summary>Opens a regular file of at most <paramref name="maxBytes"/> for reading.</summary>
    public static FileStream OpenRead(string path, long maxBytes, string what, int bufferSize = 4096)
    {
        Require(path, maxBytes, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    /// <summary>The bytes of a regular file of at most <paramref name="maxBytes"/> (a file that grows past the cap while read is refused too).</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        using var stream = OpenRead(path, maxBytes, what);
        using var memory = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            if (memory.Length + n > maxBytes) throw new NanoVlmException($"{path}: {what} grew past the limit of {maxBytes:N0} bytes while being read");
            memory.Write(buffer, 0, n);
        }
        return memory.ToArray();
    }

    /// <summary>The UTF-8 text of a regular file of at most <paramref name="maxBytes"/>.</summary>
    public static string ReadAllText(string path, long maxBytes, string what)
    {
        using var reader = new StreamReader(new MemoryStream(ReadAllBytes(path, maxBytes, what)));
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The lines of a regular file of at most <paramref name="maxBytes"/>, numbered from 1, each at most <paramref name="maxLineChars"/>
    /// long (a file of one endless line is refused at that length, not read whole).
    /// </summary>
    public static IEnumerable<(int Number, string Line)> ReadLines(string path, long maxBytes, int maxLineChars, string what)
    {
        using var reader = new StreamReader(OpenRead(path, maxBytes, what, 1 << 16));
        var line = new StringBuilder();
        var number = 1;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            if (c != '\n')
            {
                if (line.Length == maxLineChars) throw new NanoVlmException($"{path} line {number}: longer than {maxLineChars:N0} characters");
                line.Append((char)c);
                continue;
            }
            yield return (number++, Trimmed(line));
            line.Clear();
        }
        if (line.Length > 0) yield return (number, Trimmed(line));
    }

    static string Trimmed(StringBuilder line) => line.Length > 0 && line[^1] == '\r' ? line.ToString(0, line.Length - 1) : line.ToString();

    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Directory => "a folder",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.Missing => "missing",
        _ => "a regular file",
    };
}
