namespace NanoVlm.Runtime;

/// <summary>What a path names once symlinks are followed (the file type bits of <c>statx(2)</c>).</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
}
