using NanoVlm.Data;
using NanoVlm.Runtime;

namespace NanoVlm.Generation.Structured;

/// <summary>
/// Answers held to a <see cref="JsonSchema"/> while they are decoded (OpenAI's <c>response_format</c>): at each step only the tokens
/// that keep the answer a prefix of a valid value may be chosen, and eos only once the value is whole. When the tokens left are
/// few, only tokens after which the value can still be closed in time are allowed, so an answer that fits ends as valid JSON.
/// Needs a byte-level BPE tokenizer, where an answer's bytes are its tokens' bytes one after another.
/// </summary>
public sealed class JsonConstraint
{
    readonly Tokenizer _tokenizer;
    readonly TokenTrie _vocabulary;
    readonly int _eos;

    JsonConstraint(JsonSchema schema, Tokenizer tokenizer) =>
        (Schema, _tokenizer, _vocabulary, _eos) = (schema, tokenizer, TokenTrie.Of(tokenizer), tokenizer.EosTokenId);

    public JsonSchema Schema { get; }

    public static JsonConstraint For(JsonSchema schema, Tokenizer tokenizer)
    {
        if (!tokenizer.IsByteLevel)
            throw NanoVlmException.For("ResponseFormat", $"needs a byte-level BPE tokenizer, and {tokenizer.Source} is not one (its tokens do not spell an answer byte by byte)");
        return new JsonConstraint(schema, tokenizer);
    }

    /// <summary>A cursor for one answer, at its start.</summary>
    public Cursor Start() => new(this);

    /// <summary>Where one answer stands (not thread-safe: one decoding row).</summary>
    public sealed class Cursor(JsonConstraint constraint)
    {
        JsonState? _state = JsonState.Start(constraint.Schema);

        /// <summary>Between two characters of a string, where the plain-text tokens are allowed by their length alone.</summary>
        internal bool InString => _state is not null && _state.BetweenCharacters(out _, out _);

        /// <summary>
        /// The tokens that may come next when <paramref name="tokens"/> tokens are left, this one included: those that keep the answer
        /// closable within the rest (every byte is a token in byte-level BPE), or, when none does, all that continue it. None at all
        /// (a vocabulary that cannot spell what the schema needs) is an error.
        /// </summary>
        public List<int> Allowed(int tokens)
        {
            var allowed = new List<int>();
            if (_state is null) return [constraint._eos];
            constraint._vocabulary.Walk(_state, tokens - 1, allowed);
            if (allowed.Count == 0 && !_state.Complete) constraint._vocabulary.Walk(_state, int.MaxValue, allowed);
            if (_state.Complete) allowed.Add(constraint._eos);
            return allowed.Count > 0 ? allowed : throw new NanoVlmException("no token of the model's vocabulary continues the JSON answer");
        }

        /// <summary>Moves past <paramref name="token"/>, one of <see cref="Allowed"/>; eos ends the answer.</summary>
        public void Accept(int token)
        {
            if (token == constraint._eos) _state = null;
            else _state = _state?.Advance(constraint._tokenizer.TokenBytes(token))
                ?? throw new InvalidOperationException($"token {token} does not continue the JSON answer");
        }
    }
}
