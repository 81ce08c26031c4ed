using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;
using NanoVlm.Data;

namespace NanoVlm.Generation.Structured;

/// <summary>
/// A vocabulary's tokens by their bytes, as a trie: the tokens that may come next are found by walking it from a
/// <see cref="JsonState"/>, so the bytes that tokens share are checked once. Inside a string most tokens are plain text (whole UTF-8
/// characters, no quote, backslash or control character), allowed by their length alone: those are listed by how many characters
/// they hold and left out of the trie. Special tokens are left out (a decoded answer drops them).
/// </summary>
sealed class TokenTrie
{
    sealed class Node
    {
        public readonly Dictionary<byte, Node> Children = [];
        public readonly List<int> Tokens = [];
    }

    static readonly ConditionalWeakTable<Tokenizer, TokenTrie> Built = [];
    readonly Node _root = new();
    readonly Node _unplain = new();
    // _plain[c]: the plain-text tokens of c characters.
    readonly List<int>[] _plain;

    TokenTrie(Tokenizer tokenizer)
    {
        var plain = new List<List<int>>();
        for (var id = 0; id < tokenizer.VocabSize; id++)
        {
            if (tokenizer.SpecialTokenIds.Contains(id)) continue;
            var bytes = tokenizer.TokenBytes(id);
            if (bytes.Length == 0) continue;
            Add(_root, bytes, id);
            if (Plain(bytes) is { } chars)
            {
                while (plain.Count <= chars) plain.Add([]);
                plain[chars].Add(id);
            }
            else Add(_unplain, bytes, id);
        }
        _plain = [.. plain];
    }

    static void Add(Node node, byte[] bytes, int id)
    {
        foreach (var b in bytes)
        {
            if (!node.Children.TryGetValue(b, out var child)) node.Children[b] = child = new Node();
            node = child;
        }
        node.Tokens.Add(id);
    }

    /// <summary>The characters of a token that is plain string text, else null.</summary>
    static int? Plain(byte[] bytes) =>
        Utf8.IsValid(bytes) && !bytes.Any(b => b is < 0x20 or (byte)'"' or (byte)'\\') ? Encoding.UTF8.GetString(bytes).EnumerateRunes().Count() : null;

    /// <summary>The trie of <paramref name="tokenizer"/>'s vocabulary, built once per tokenizer.</summary>
    public static TokenTrie Of(Tokenizer tokenizer) => Built.GetValue(tokenizer, t => new TokenTrie(t));

    /// <summary>Adds to <paramref name="allowed"/> the tokens whose bytes <paramref name="state"/> takes and after which at most
    /// <paramref name="budget"/> bytes end the answer.</summary>
    public void Walk(JsonState state, int budget, List<int> allowed)
    {
        if (!state.BetweenCharacters(out var room, out var needed))
        {
            Walk(_root, state, budget, allowed);
            return;
        }
        // c plain characters leave the string as it was, c characters longer: the cost falls by what they give of those still needed.
        for (var chars = 1; chars < _plain.Length && chars <= room; chars++)
            if (state.Cost - Math.Min(chars, needed) <= budget) allowed.AddRange(_plain[chars]);
        Walk(_unplain, state, budget, allowed);
    }

    static void Walk(Node node, JsonState state, int budget, List<int> allowed)
    {
        foreach (var (b, child) in node.Children)
        {
            if (state.Advance(b) is not { } next) continue;
            if (next.Cost <= budget) allowed.AddRange(child.Tokens);
            if (child.Children.Count > 0) Walk(child, next, budget, allowed);
        }
    }
}
