namespace NanoVlm.Hub;

/// <summary>What a HEAD on a file's resolve URL says: the commit it resolved to, the blob's etag (the sha256 for LFS files), its size and where to GET it.</summary>
internal sealed record FileMetadata(string Commit, string Etag, long? Size, Uri Location, bool IsLfs);
