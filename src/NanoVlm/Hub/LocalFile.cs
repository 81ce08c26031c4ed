using System.Security.Cryptography;
using NanoVlm.Runtime;

namespace NanoVlm.Hub;

/// <summary>A file to upload: its path in the repo, size, sha256 (the LFS oid) and first 512 bytes (the preupload sample).</summary>
internal sealed record LocalFile(string RepoPath, string FullPath, long Size, string Sha256, byte[] Sample)
{
    public static LocalFile Read(string folder, string fullPath)
    {
        using var stream = RegularFile.OpenRead(fullPath, long.MaxValue, "file to upload");
        var sample = new byte[Math.Min(512, stream.Length)];
        stream.ReadExactly(sample);
        stream.Position = 0;
        var sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        var repoPath = Path.GetRelativePath(folder, fullPath).Replace(Path.DirectorySeparatorChar, '/');
        return new LocalFile(repoPath, fullPath, stream.Length, sha, sample);
    }
}
