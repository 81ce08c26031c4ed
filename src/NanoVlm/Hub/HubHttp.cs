using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace NanoVlm.Hub;

/// <summary>
/// The HTTP side of the Hub client: the token only goes to the endpoint's own origin (never to a CDN a redirect leads to),
/// redirects are followed by hand so that rule holds, https is required off loopback, and 429/5xx/dropped connections are retried with backoff.
/// An API answer is read whole within the timeout and up to <see cref="HubOptions.MaxAnswerBytes"/>; a download's body is streamed by the caller.
/// </summary>
internal sealed class HubHttp : IDisposable
{
    private readonly HttpClient _client;
    private readonly HubOptions _options;

    public HubHttp(HubOptions options)
    {
        if (options.Token is { } token)
            HubOptions.CheckToken(token, "HubOptions.Token");
        _options = options;
        Redactor = new Redactor(options.Token);
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = options.MaxAnswerBytes,
        };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("nanovlm/0.1");
    }

    public HubOptions Options => _options;

    public Redactor Redactor { get; }

    /// <summary>
    /// Sends a request, following redirects (only those to the same origin when <paramref name="crossOriginRedirects"/> is false:
    /// the 3xx itself is then returned, as the Hub's HEAD answer for LFS files is), and retrying transient failures.
    /// Returns the last response whatever its status; <see cref="EnsureSuccessAsync"/> turns errors into messages. With
    /// <paramref name="stream"/> only the headers are awaited (a download); otherwise the whole answer is read.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, Uri url, string what, bool crossOriginRedirects, CancellationToken ct,
        Func<HttpContent>? content = null, IEnumerable<KeyValuePair<string, string>>? headers = null, long? rangeFrom = null, bool stream = false)
    {
        for (var attempt = 1; ; attempt++)
        {
            TimeSpan? retryAfter = null;
            try
            {
                var response = await FollowAsync(method, url, crossOriginRedirects, content, headers, rangeFrom, stream, ct).ConfigureAwait(false);
                if (!IsTransient(response.StatusCode) || attempt >= _options.Retry.MaxAttempts)
                    return response;
                retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
            }
            catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
            {
                throw new HubException(HubErrorKind.Server,
                    $"the answer of {Redactor.Shown(url.GetLeftPart(UriPartial.Path))} for {what} is over the limit of {_options.MaxAnswerBytes:N0} bytes", e);
            }
            catch (Exception e) when (IsNetworkFailure(e, ct))
            {
                if (attempt >= _options.Retry.MaxAttempts || IsTimeout(e, ct) || IsNameNotFound(e))
                    throw NoNetwork(url, what, e, attempt);
            }
            await Task.Delay(_options.Retry.Delay(attempt, retryAfter), ct).ConfigureAwait(false);
        }
    }

    private async Task<HttpResponseMessage> FollowAsync(
        HttpMethod method, Uri url, bool crossOriginRedirects, Func<HttpContent>? content,
        IEnumerable<KeyValuePair<string, string>>? headers, long? rangeFrom, bool stream, CancellationToken ct)
    {
        for (var hops = 0; ; hops++)
        {
            RequireSecure(url);
            using var request = new HttpRequestMessage(method, url) { Content = content?.Invoke() };
            request.Headers.AcceptEncoding.ParseAdd("identity");
            if (_options.Token is { } token && SameOrigin(url, _options.Endpoint))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (rangeFrom is { } from)
                request.Headers.Range = new RangeHeaderValue(from, null);
            foreach (var (name, value) in headers ?? [])
                if (!request.Headers.TryAddWithoutValidation(name, value))
                    request.Content?.Headers.TryAddWithoutValidation(name, value);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.Timeout);
            var response = await _client.SendAsync(request,
                stream ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || response.Headers.Location is not { } location)
                return response;
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            if ((!crossOriginRedirects && !SameOrigin(next, url)) || hops >= 10)
                return response;
            response.Dispose();
            if (status == 303)
                (method, content) = (method == HttpMethod.Head ? HttpMethod.Head : HttpMethod.Get, null);
            url = next;
        }
    }

    /// <summary>Throws the Hub's error as a one-line <see cref="HubException"/> when the response is not a success (or a redirect, when <paramref name="allowRedirect"/>).</summary>
    public async Task EnsureSuccessAsync(HttpResponseMessage response, HubTarget target, bool allowRedirect, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300 || (allowRedirect && status is >= 300 and < 400))
            return;
        var body = response.RequestMessage?.Method == HttpMethod.Head ? "" : await ReadSomeAsync(response, ct).ConfigureAwait(false);
        throw HubErrors.From(response, body, target, Redactor, _options.Token is not null);
    }

    public static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    /// <summary>Whether an exception is a network failure or a timeout, as opposed to a cancellation the caller asked for.</summary>
    public static bool IsNetworkFailure(Exception e, CancellationToken ct) =>
        e is HttpRequestException or HttpIOException or SocketException
        || (e is IOException && e.InnerException is SocketException or HttpIOException)
        || IsTimeout(e, ct);

    public static bool IsTimeout(Exception e, CancellationToken ct) => e is OperationCanceledException && !ct.IsCancellationRequested;

    /// <summary>The host name does not resolve: waiting will not change that, so it is not retried.</summary>
    static bool IsNameNotFound(Exception e) =>
        (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData;

    public HubException NoNetwork(Uri url, string what, Exception e, int? attempts = null)
    {
        var reason = e switch
        {
            OperationCanceledException => $"no answer within {_options.Timeout.TotalSeconds:0.#} s",
            HttpRequestException { InnerException: SocketException s } => s.SocketErrorCode.ToString(),
            HttpRequestException h => h.HttpRequestError.ToString(),
            _ => Redactor.Shown(e.Message),
        };
        return new HubException(HubErrorKind.NoNetwork,
            $"cannot reach the Hub at {Redactor.Shown(url.GetLeftPart(UriPartial.Authority))} for {what} ({reason}, {Plural(attempts ?? _options.Retry.MaxAttempts)}); set HF_HUB_OFFLINE=1 to use only the cache", e);
    }

    static string Plural(int attempts) => attempts == 1 ? "1 attempt" : $"{attempts} attempts";

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout or HttpStatusCode.InternalServerError
            or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    private void RequireSecure(Uri url)
    {
        if (url.Scheme != Uri.UriSchemeHttps && !(url.Scheme == Uri.UriSchemeHttp && HubOptions.IsLoopback(url)))
            throw new HubException(HubErrorKind.Unsafe, $"refusing {Redactor.Shown(url.GetLeftPart(UriPartial.Authority))}: the Hub and its CDN must use https (plain http only on loopback)");
    }

    /// <summary>The start of an error answer (that of a download is still unread), within the timeout.</summary>
    private async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var buffer = new byte[2048];
            var n = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, timeout.Token).ConfigureAwait(false);
            return System.Text.Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (Exception e) when (IsNetworkFailure(e, ct))
        {
            return "";
        }
    }

    public void Dispose() => _client.Dispose();
}
