using NanoVlm.Generation;
using System.Diagnostics;
using System.Threading.Channels;
using NanoVlm.Data;

namespace NanoVlm.Serving;

/// <summary>
/// A request taken by a <see cref="ChatEngine"/>: its answers' text arrives in <see cref="Deltas"/> as the tokens are decoded.
/// Cancelling the token given to Submit takes its rows out of the batch at the next step.
/// </summary>
public sealed class ChatJob
{
    readonly Channel<ChatDelta> _deltas = Channel.CreateUnbounded<ChatDelta>(new UnboundedChannelOptions { SingleWriter = true });
    readonly AnswerText[] _answers;
    readonly string?[] _finishReasons;
    // Per answer: the log-probabilities of all its tokens.
    readonly List<TokenLogprob>[] _logprobs;
    readonly long _submitted = Stopwatch.GetTimestamp();
    long _firstToken, _finished, _started;
    // Per answer: when its last token came; over all answers: the gaps between an answer's tokens (seconds).
    readonly long[] _lastToken;
    readonly List<double> _gaps = [];

    internal ChatJob(ChatRequest request, VlmBatch prompt, Tokenizer tokenizer, CancellationToken cancellation)
    {
        (Request, Prompt, Cancellation, EosTokenId) = (request, prompt, cancellation, tokenizer.EosTokenId);
        PromptTokens = (int)prompt.InputIds.shape[1];
        _answers = Enumerable.Range(0, request.Choices).Select(_ => new AnswerText(tokenizer, request.Stop)).ToArray();
        _finishReasons = new string?[request.Choices];
        _lastToken = new long[request.Choices];
        _logprobs = [.. Enumerable.Range(0, request.Choices).Select(_ => new List<TokenLogprob>())];
    }

    internal ChatRequest Request { get; }
    internal VlmBatch Prompt { get; }
    internal CancellationToken Cancellation { get; }
    /// <summary>The prompt's image tiles' keys for the image and prefix caches (empty without images or caches).</summary>
    internal IReadOnlyList<string> TileKeys { get; init; } = [];
    int EosTokenId { get; }

    public int PromptTokens { get; }
    /// <summary>Prompt tokens taken from the prefix cache instead of being prefilled (OpenAI's <c>cached_tokens</c>).</summary>
    public int CachedTokens { get; internal set; }
    /// <summary>Answers to the request (its n).</summary>
    public int Choices => Request.Choices;
    /// <summary>Tokens of the answers so far (an eos that ends an answer is not counted).</summary>
    public int CompletionTokens => _answers.Sum(a => a.Tokens);
    public ChannelReader<ChatDelta> Deltas => _deltas.Reader;
    public TimeSpan? TimeToFirstToken => _firstToken == 0 ? null : Stopwatch.GetElapsedTime(_submitted, _firstToken);
    /// <summary>From Submit to the engine taking the request from its queue.</summary>
    public TimeSpan? QueueWait => _started == 0 ? null : Stopwatch.GetElapsedTime(_submitted, _started);
    /// <summary>The gaps between consecutive tokens of each answer, in seconds (read once the job has finished).</summary>
    public IReadOnlyList<double> InterTokenSeconds => _gaps;

    internal void Started() => _started = Stopwatch.GetTimestamp();
    /// <summary>From Submit to the last answer's end (or until now).</summary>
    public TimeSpan Elapsed => _finished == 0 ? Stopwatch.GetElapsedTime(_submitted) : Stopwatch.GetElapsedTime(_submitted, _finished);

    /// <summary>Waits for every answer (reading <see cref="Deltas"/>).</summary>
    public async Task<ChatResult> ResultAsync(CancellationToken cancellation = default)
    {
        await foreach (var _ in Deltas.ReadAllAsync(cancellation)) { }
        return Result;
    }

    /// <summary>The answers, once <see cref="Deltas"/> has completed.</summary>
    public ChatResult Result => _finished == 0
        ? throw new InvalidOperationException("the job has not finished")
        : new ChatResult(_answers.Select((a, i) => (a.Text, _finishReasons[i]!)).ToList(), PromptTokens, CompletionTokens)
        {
            Logprobs = Request.Options.Logprobs is null ? null : _logprobs,
            CachedTokens = CachedTokens,
        };

    /// <summary>
    /// A decoded token of answer <paramref name="choice"/> (with its log-probability when asked); returns whether that answer is done.
    /// The eos that ends an answer is not listed among its tokens, nor the token that completes a stop string.
    /// </summary>
    internal bool Accept(int choice, long token, bool last, TokenLogprob? logprob = null)
    {
        var now = Stopwatch.GetTimestamp();
        if (_firstToken == 0) _firstToken = now;
        if (_lastToken[choice] != 0) _gaps.Add(Stopwatch.GetElapsedTime(_lastToken[choice], now).TotalSeconds);
        _lastToken[choice] = now;
        var answer = _answers[choice];
        if (token == EosTokenId && Request.Options.StopAtEos) return End(choice, answer.Finish(), "stop");
        var text = answer.Add((int)token);
        if (answer.Stopped) return End(choice, text, "stop");
        if (last) return End(choice, text + answer.Finish(), "length", logprob);
        // With log-probabilities asked for, every token is a delta (as OpenAI streams them), also one whose text is held back (half a
        // character, the start of a stop string): its log-probability and bytes come at once, not with the next text.
        if (text.Length > 0 || logprob is not null) _deltas.Writer.TryWrite(new ChatDelta(choice, text) { Logprobs = Listed(choice, logprob) });
        return false;
    }

    /// <summary>A delta's log-probabilities (this token's, when it has one; none when they were not asked for), listed in the answer's.</summary>
    IReadOnlyList<TokenLogprob>? Listed(int choice, TokenLogprob? logprob)
    {
        if (Request.Options.Logprobs is null) return null;
        TokenLogprob[] listed = logprob is null ? [] : [logprob];
        _logprobs[choice].AddRange(listed);
        return listed;
    }

    bool End(int choice, string text, string reason, TokenLogprob? logprob = null)
    {
        _finishReasons[choice] = reason;
        _deltas.Writer.TryWrite(new ChatDelta(choice, text, reason) { Logprobs = Listed(choice, logprob) });
        if (_finishReasons.All(r => r is not null))
        {
            _finished = Stopwatch.GetTimestamp();
            _deltas.Writer.TryComplete();
        }
        return true;
    }

    internal void Fail(Exception error)
    {
        _finished = Stopwatch.GetTimestamp();
        _deltas.Writer.TryComplete(error);
    }
}
