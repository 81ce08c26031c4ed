using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NanoVlm.Serving;
using NanoVlm.Pretrained;

namespace NanoVlm.Server;

/// <summary>
/// An OpenAI-compatible HTTP server over a loaded model (ASP.NET Core minimal APIs): <c>GET /</c> (the chat page),
/// <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c>, <c>GET /health</c>, <c>GET /metrics</c>. Requests are batched by a
/// <see cref="ChatEngine"/>. The model stays the caller's.
/// </summary>
public sealed class VlmServer : IAsyncDisposable
{
    readonly WebApplication _app;

    VlmServer(WebApplication app, ChatEngine engine, Uri url) => (_app, Engine, Url) = (app, engine, url);

    /// <summary>The address it listens on (with the port picked when <see cref="ServerOptions.Port"/> was 0).</summary>
    public Uri Url { get; }
    public ChatEngine Engine { get; }

    public static async Task<VlmServer> StartAsync(PretrainedVlm vlm, ServerOptions options)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        var host = options.Host.Contains(':') ? $"[{options.Host}]" : options.Host;
        builder.WebHost.UseUrls($"http://{host}:{options.Port}");
        var app = builder.Build();
        var engine = new ChatEngine(vlm, options.Engine);
        try
        {
            Map(app, engine, options);
            await app.StartAsync();
        }
        catch
        {
            engine.Dispose();
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new VlmServer(app, engine, new Uri(address.Replace("//[::]", "//localhost", StringComparison.Ordinal)));
    }

    static void Map(WebApplication app, ChatEngine engine, ServerOptions options)
    {
        var metrics = new ServerMetrics(engine);
        var completions = new ChatCompletionsEndpoint(engine, options, metrics);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var models = OpenAiJson.Models(options.ModelId, created);
        app.MapGet("/", () => Results.Bytes(ChatPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/v1/models", () => Results.Bytes(models, "application/json"));
        app.MapPost("/v1/chat/completions", completions.Handle);
        app.MapPost("/v1/completions", new ChatCompletionsEndpoint(engine, options, metrics, text: true).Handle);
        app.MapGet("/health", () => Results.Text(
            $"{{\"status\":\"ok\",\"model\":{JsonSerializer.Serialize(options.ModelId)},\"queue\":{engine.QueueLength},\"batch\":{engine.BatchSize}}}",
            "application/json"));
        app.MapGet("/metrics", () => Results.Text(metrics.Text(), "text/plain; version=0.0.4; charset=utf-8"));
    }

    /// <summary>Completes when the server is asked to stop.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation) => _app.WaitForShutdownAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        Engine.Dispose();
        await _app.DisposeAsync();
    }
}
