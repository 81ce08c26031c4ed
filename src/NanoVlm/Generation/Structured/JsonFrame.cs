namespace NanoVlm.Generation.Structured;

/// <summary>
/// What a frame does with a byte: <see cref="Frames"/> replace it (bottom first; none: it is done), and the byte is used up, or handed
/// on to the new top (<see cref="Consumed"/> false). <see cref="Frames"/> null: the byte cannot come here.
/// </summary>
readonly record struct JsonStep(JsonFrame[]? Frames, bool Consumed)
{
    public static JsonStep Reject => default;
    public static JsonStep Done(bool consumed) => new([], consumed);
    public static JsonStep Take(params JsonFrame[] frames) => new(frames, true);
    public static JsonStep Hand(params JsonFrame[] frames) => new(frames, false);
}

/// <summary>One value being written (<see cref="JsonState"/> keeps a stack of them).</summary>
abstract class JsonFrame
{
    /// <summary>The fewest bytes this frame still needs once the frames above it are done.</summary>
    public abstract int Rest { get; }
    public abstract JsonStep Advance(byte b);
}

/// <summary>A value not begun yet: its first byte picks what it is.</summary>
sealed class JsonValueFrame(JsonSchema schema) : JsonFrame
{
    public override int Rest => schema.MinBytes;

    public override JsonStep Advance(byte b) => schema switch
    {
        JsonObjectSchema o when b == '{' => JsonStep.Take(new JsonObjectFrame(o)),
        JsonArraySchema a when b == '[' => JsonStep.Take(new JsonArrayFrame(a)),
        JsonStringSchema s when b == '"' => JsonStep.Take(new JsonStringFrame(s)),
        JsonNumberSchema n when n.Starts(b) => JsonStep.Hand(new JsonNumberFrame(n.IsInteger)),
        JsonLiteralSchema l when l.Starts(b) => JsonStep.Hand(new JsonLiteralFrame(l.Values, 0)),
        JsonUnionSchema u when u.Members.FirstOrDefault(m => m.Starts(b)) is { } member => JsonStep.Hand(new JsonValueFrame(member)),
        JsonAnySchema when JsonAnySchema.Concrete(b) is { } concrete => JsonStep.Hand(new JsonValueFrame(concrete)),
        _ => JsonStep.Reject,
    };
}

/// <summary>One of fixed byte strings, <paramref name="at"/> bytes of it written; those still possible are <paramref name="values"/>.</summary>
sealed class JsonLiteralFrame(IReadOnlyList<byte[]> values, int at) : JsonFrame
{
    public override int Rest => values.Min(v => v.Length - at);

    public override JsonStep Advance(byte b)
    {
        var next = values.Where(v => v.Length > at && v[at] == b).ToList();
        if (next.Count == 0) return values.Any(v => v.Length == at) ? JsonStep.Done(false) : JsonStep.Reject;
        return next.All(v => v.Length == at + 1) ? JsonStep.Done(true) : JsonStep.Take(new JsonLiteralFrame(next, at + 1));
    }
}

/// <summary>Inside a string, after its opening quote: escapes checked, UTF-8 kept valid (no lone surrogate either way), characters counted.</summary>
sealed class JsonStringFrame : JsonFrame
{
    readonly JsonStringSchema _schema;
    readonly int _count;
    // _escape: 0 none, 1 after a backslash, 2..5 in \u with _escape - 2 hex digits read. _utf8: continuation bytes still due, each in _low.._high.
    readonly int _escape, _utf8;
    readonly byte _low, _high;
    readonly bool _surrogate;

    public JsonStringFrame(JsonStringSchema schema) : this(schema, 0, 0, 0, 0x80, 0xBF, false) { }

    JsonStringFrame(JsonStringSchema schema, int count, int escape, int utf8, byte low, byte high, bool surrogate) =>
        (_schema, _count, _escape, _utf8, _low, _high, _surrogate) = (schema, count, escape, utf8, low, high, surrogate);

    public bool BetweenCharacters(out int room, out int needed)
    {
        (room, needed) = (_schema.MaxLength - _count, Math.Max(0, _schema.MinLength - _count));
        return _escape == 0 && _utf8 == 0;
    }

    public override int Rest => _utf8 + (_escape == 1 ? 1 : _escape >= 2 ? 6 - _escape : 0) + Math.Max(0, _schema.MinLength - _count) + 1;

    JsonStep Next(int count, int escape = 0, int utf8 = 0, byte low = 0x80, byte high = 0xBF, bool surrogate = false) =>
        JsonStep.Take(new JsonStringFrame(_schema, count, escape, utf8, low, high, surrogate));

    public override JsonStep Advance(byte b)
    {
        if (_utf8 > 0) return b >= _low && b <= _high ? Next(_count, utf8: _utf8 - 1) : JsonStep.Reject;
        if (_escape == 1)
            return b switch
            {
                (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t' => Next(_count),
                (byte)'u' => Next(_count, escape: 2),
                _ => JsonStep.Reject,
            };
        if (_escape >= 2)
        {
            var hex = Uri.IsHexDigit((char)b);
            // \uD800-\uDFFF would be half a character: refused, so the answer is text any JSON reader takes.
            if (!hex || (_surrogate && _escape == 3 && b > '7')) return JsonStep.Reject;
            return Next(_count, escape: _escape == 5 ? 0 : _escape + 1, surrogate: _escape == 2 && b is (byte)'d' or (byte)'D');
        }
        if (b == '"') return _count >= _schema.MinLength ? JsonStep.Done(true) : JsonStep.Reject;
        if (_count == _schema.MaxLength || b < 0x20) return JsonStep.Reject;
        var count = _count + 1;
        return b switch
        {
            (byte)'\\' => Next(count, escape: 1),
            < 0x80 => Next(count),
            >= 0xC2 and <= 0xDF => Next(count, utf8: 1),
            0xE0 => Next(count, utf8: 2, low: 0xA0),
            0xED => Next(count, utf8: 2, high: 0x9F),
            >= 0xE1 and <= 0xEF => Next(count, utf8: 2),
            0xF0 => Next(count, utf8: 3, low: 0x90),
            >= 0xF1 and <= 0xF3 => Next(count, utf8: 3),
            0xF4 => Next(count, utf8: 3, high: 0x8F),
            _ => JsonStep.Reject,
        };
    }
}

/// <summary>
/// A number as JSON writes it. Up to 16 digits before and after the point and 2 in the exponent, so an answer's numbers stay numbers
/// that readers take (no 300-digit integer, no overflowing exponent).
/// </summary>
sealed class JsonNumberFrame(bool integer, JsonNumberFrame.Part part = JsonNumberFrame.Part.Start, int digits = 0) : JsonFrame
{
    public enum Part { Start, Minus, Zero, Int, Dot, Fraction, E, ExponentSign, Exponent }
    const int MaxDigits = 16, MaxExponentDigits = 2;

    public override int Rest => part is Part.Zero or Part.Int or Part.Fraction or Part.Exponent ? 0 : 1;

    JsonStep To(Part next, int count = 0) => JsonStep.Take(new JsonNumberFrame(integer, next, count));

    public override JsonStep Advance(byte b)
    {
        var digit = JsonSchema.IsDigit(b);
        return part switch
        {
            Part.Start when b == '-' => To(Part.Minus),
            Part.Start or Part.Minus when b == '0' => To(Part.Zero),
            Part.Start or Part.Minus when digit => To(Part.Int, 1),
            Part.Int when digit && digits < MaxDigits => To(Part.Int, digits + 1),
            Part.Zero or Part.Int when b == '.' && !integer => To(Part.Dot),
            Part.Zero or Part.Int or Part.Fraction when b is (byte)'e' or (byte)'E' && !integer => To(Part.E),
            Part.Dot when digit => To(Part.Fraction, 1),
            Part.Fraction when digit && digits < MaxDigits => To(Part.Fraction, digits + 1),
            Part.E when b is (byte)'+' or (byte)'-' => To(Part.ExponentSign),
            Part.E or Part.ExponentSign when digit => To(Part.Exponent, 1),
            Part.Exponent when digit && digits < MaxExponentDigits => To(Part.Exponent, digits + 1),
            _ => Rest == 0 ? JsonStep.Done(false) : JsonStep.Reject,
        };
    }
}

/// <summary>An array after its <c>[</c>: <paramref name="count"/> items begun; <paramref name="part"/> says what may come next.</summary>
sealed class JsonArrayFrame(JsonArraySchema schema, JsonArrayFrame.Part part = JsonArrayFrame.Part.Open, int count = 0, bool spaced = false) : JsonFrame
{
    public enum Part { Open, AfterItem, AfterComma }

    public override int Rest
    {
        get
        {
            var item = schema.Items.MinBytes;
            return part switch
            {
                Part.Open => schema.MinItems == 0 ? 1 : schema.MinItems * (item + 1),
                Part.AfterItem => Math.Max(0, schema.MinItems - count) * (item + 1) + 1,
                _ => item + Math.Max(0, schema.MinItems - count - 1) * (item + 1) + 1,
            };
        }
    }

    public override JsonStep Advance(byte b) => part switch
    {
        Part.Open when b == ']' => schema.MinItems == 0 ? JsonStep.Done(true) : JsonStep.Reject,
        Part.Open => schema.MaxItems > 0 ? Item() : JsonStep.Reject,
        Part.AfterItem when b == ',' => count < schema.MaxItems ? JsonStep.Take(new JsonArrayFrame(schema, Part.AfterComma, count)) : JsonStep.Reject,
        Part.AfterItem when b == ']' => count >= schema.MinItems ? JsonStep.Done(true) : JsonStep.Reject,
        Part.AfterComma when b == ' ' && !spaced => JsonStep.Take(new JsonArrayFrame(schema, part, count, true)),
        Part.AfterComma => Item(),
        _ => JsonStep.Reject,
    };

    JsonStep Item() => JsonStep.Hand(new JsonArrayFrame(schema, Part.AfterItem, count + 1), new JsonValueFrame(schema.Items));
}

/// <summary>
/// An object after its <c>{</c>. With properties: they come in the schema's order, each at most once, none skipped that is required
/// (<paramref name="next"/> is the first that may still come); a key is matched against the candidates' quoted names
/// (<paramref name="keys"/>, <paramref name="at"/> bytes in). Without: any string keys, any values.
/// </summary>
sealed class JsonObjectFrame(JsonObjectSchema schema, JsonObjectFrame.Part part = JsonObjectFrame.Part.Open, int next = 0,
    int[]? keys = null, int at = 0, bool spaced = false) : JsonFrame
{
    public enum Part { Open, Key, Colon, Value, AfterValue, AfterComma }

    IReadOnlyList<JsonPropertySchema>? Properties => schema.Properties;

    public override int Rest => Properties is null
        ? part switch { Part.Open or Part.AfterValue => 1, Part.Colon => 3, Part.Value => 2, _ => 5 }
        : part switch
        {
            Part.Open => schema.Rest(0, false) + 1,
            Part.Key => keys!.Min(k => Properties[k].Key.Length - at + AfterKey(k)),
            Part.Colon => AfterKey(next),
            Part.Value => AfterKey(next) - 1,
            Part.AfterValue => schema.Rest(next, true) + 1,
            _ => schema.Candidates(next).Min(k => Properties[k].Key.Length + AfterKey(k)),
        };

    /// <summary>From the colon after property <paramref name="k"/>'s key to the closing brace, at the fewest bytes.</summary>
    int AfterKey(int k) => 1 + Properties![k].Value.MinBytes + schema.Rest(k + 1, true) + 1;

    JsonObjectFrame To(Part part, int next, int[]? keys = null, int at = 0, bool spaced = false) => new(schema, part, next, keys, at, spaced);

    public override JsonStep Advance(byte b) => part switch
    {
        Part.Open when b == '}' => schema.Properties is null || !schema.RequiresFrom(0) ? JsonStep.Done(true) : JsonStep.Reject,
        Part.AfterComma when b == ' ' && !spaced => JsonStep.Take(To(part, next, spaced: true)),
        Part.Open or Part.AfterComma => Properties is null
            ? b == '"' ? JsonStep.Take(To(Part.Colon, next), new JsonStringFrame(JsonAnySchema.AnyString)) : JsonStep.Reject
            : MatchKey([.. schema.Candidates(next)], 0, b),
        Part.Key => MatchKey(keys!, at, b),
        Part.Colon when b == ':' => JsonStep.Take(To(Part.Value, next)),
        Part.Value when b == ' ' && !spaced => JsonStep.Take(To(Part.Value, next, spaced: true)),
        Part.Value => JsonStep.Hand(To(Part.AfterValue, next + 1), new JsonValueFrame(Properties?[next].Value ?? JsonSchema.Any)),
        Part.AfterValue when b == ',' => Properties is null || schema.Candidates(next).Any() ? JsonStep.Take(To(Part.AfterComma, next)) : JsonStep.Reject,
        Part.AfterValue when b == '}' => Properties is null || !schema.RequiresFrom(next) ? JsonStep.Done(true) : JsonStep.Reject,
        _ => JsonStep.Reject,
    };

    /// <summary>The key's next byte among the candidates; a whole key (quoted names end differently from any longer one) picks its property.</summary>
    JsonStep MatchKey(int[] candidates, int at, byte b)
    {
        var alive = candidates.Where(k => Properties![k].Key[at] == b).ToArray();
        if (alive.Length == 0) return JsonStep.Reject;
        var whole = alive.Where(k => Properties![k].Key.Length == at + 1).ToArray();
        return whole.Length > 0 ? JsonStep.Take(To(Part.Colon, whole[0])) : JsonStep.Take(To(Part.Key, next, alive, at + 1));
    }
}
