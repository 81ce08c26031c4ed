namespace NanoVlm.Server;

/// <summary>The bytes of a base64 <c>data:</c> URL; other URLs (http, file, ...) are refused: the server fetches nothing.</summary>
static class DataUrl
{
    public static byte[] Bytes(string url, string field)
    {
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var scheme = url.IndexOf(':') is > 0 and var colon ? url[..colon] : "no scheme";
            throw ApiException.BadRequest($"{field}: only data: URLs are accepted (got {Truncated(scheme)}); send the image inline as base64", field);
        }
        var comma = url.IndexOf(',');
        if (comma < 0) throw ApiException.BadRequest($"{field}: a data: URL needs a ',' before its data", field);
        var header = url[5..comma];
        if (!header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw ApiException.BadRequest($"{field}: the data: URL must be base64 (data:image/png;base64,...)", field);
        var mediaType = header[..^7];
        if (mediaType.Length > 0 && !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
            throw ApiException.BadRequest($"{field}: media type '{Truncated(mediaType)}' is not an image", field);
        try
        {
            return Convert.FromBase64String(url[(comma + 1)..]);
        }
        catch (FormatException)
        {
            throw ApiException.BadRequest($"{field}: the data is not valid base64", field);
        }
    }

    static string Truncated(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
