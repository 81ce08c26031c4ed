namespace NanoVlm.Hub;

/// <summary>Where a file download stands; <see cref="TotalBytes"/> is null when the server did not say.</summary>
public readonly record struct DownloadProgress(string FileName, long BytesDone, long? TotalBytes, double BytesPerSecond, bool Completed);
