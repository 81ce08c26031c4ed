using NanoVlm.Data;

namespace NanoVlm.Generation;

/// <summary>
/// One answer's text as its tokens arrive. The tokens are decoded whole each time (a token can change how earlier bytes decode);
/// text is released only where it is stable: no half character at the end, nothing that may still become a stop string. The text
/// ends before the first stop string.
/// </summary>
sealed class AnswerText(Tokenizer tokenizer, IReadOnlyList<string> stops)
{
    readonly List<int> _ids = [];
    string _released = "";

    public int Tokens => _ids.Count;
    /// <summary>The whole answer so far, cut at a stop string.</summary>
    public string Text { get; private set; } = "";
    public bool Stopped { get; private set; }

    /// <summary>Adds a token; returns the text released by it.</summary>
    public string Add(int id)
    {
        _ids.Add(id);
        Text = tokenizer.Decode(_ids, skipSpecialTokens: true);
        var cut = stops.Select(s => Text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (cut >= 0)
        {
            Text = Text[..cut];
            Stopped = true;
            return Finish();
        }
        var stable = Text.TrimEnd('\uFFFD');
        return Release(stable[..^HeldBack(stable)]);
    }

    /// <summary>Releases the rest of the text.</summary>
    public string Finish() => Release(Text);

    /// <summary>The length of the longest end of <paramref name="text"/> that begins a stop string.</summary>
    int HeldBack(string text)
    {
        var held = 0;
        foreach (var stop in stops)
            for (var n = Math.Min(stop.Length - 1, text.Length); n > held; n--)
                if (text.EndsWith(stop[..n], StringComparison.Ordinal))
                {
                    held = n;
                    break;
                }
        return held;
    }

    string Release(string upTo)
    {
        if (upTo.Length <= _released.Length || !upTo.StartsWith(_released, StringComparison.Ordinal)) return "";
        var text = upTo[_released.Length..];
        _released = upTo;
        return text;
    }
}
