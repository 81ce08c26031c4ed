namespace NanoVlm.Server;

/// <summary>The chat page served at <c>/</c>: one HTML file with its CSS and JavaScript, embedded in the assembly.</summary>
static class ChatPage
{
    public static readonly byte[] Html = Load();

    static byte[] Load()
    {
        using var stream = typeof(ChatPage).Assembly.GetManifestResourceStream("index.html")
            ?? throw new InvalidOperationException("the chat page is not embedded");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }
}
