namespace NanoVlm.Generation.Structured;

/// <summary>
/// Where an answer stands in writing a value of a <see cref="JsonSchema"/>, byte by byte: a stack of frames (the innermost value on
/// top). Immutable, so the states after each candidate token's bytes share what they have in common.
/// </summary>
public sealed class JsonState
{
    readonly JsonFrame? _top;
    readonly JsonState? _below;

    JsonState(JsonFrame? top, JsonState? below)
    {
        (_top, _below) = (top, below);
        Cost = (below?.Cost ?? 0) + (top?.Rest ?? 0);
    }

    static readonly JsonState Empty = new(null, null);

    public static JsonState Start(JsonSchema schema) => new(new JsonValueFrame(schema), Empty);

    /// <summary>The fewest bytes that end the answer as a whole value; 0 when it may end here.</summary>
    public int Cost { get; }

    public bool Complete => Cost == 0;

    /// <summary>
    /// Inside a string between characters (no escape or multi-byte character begun): how many more characters it may take, and
    /// how many it still needs. Any run of plain characters (no quote, backslash or control character) keeps it there.
    /// </summary>
    internal bool BetweenCharacters(out int room, out int needed)
    {
        (room, needed) = (0, 0);
        return _top is JsonStringFrame s && s.BetweenCharacters(out room, out needed);
    }

    /// <summary>The state after <paramref name="b"/>, or null when the answer cannot go on with it.</summary>
    public JsonState? Advance(byte b)
    {
        var state = this;
        while (state._top is { } top)
        {
            var step = top.Advance(b);
            if (step.Frames is null) return null;
            state = state._below!;
            foreach (var frame in step.Frames) state = new JsonState(frame, state);
            if (step.Consumed) return state;
        }
        return null; // the value is whole: nothing may follow it
    }

    public JsonState? Advance(ReadOnlySpan<byte> bytes)
    {
        JsonState? state = this;
        foreach (var b in bytes)
            if ((state = state!.Advance(b)) is null) return null;
        return state;
    }
}
