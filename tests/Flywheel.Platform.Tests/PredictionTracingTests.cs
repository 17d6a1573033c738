using System.Diagnostics;
using Flywheel.Core.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The service defaults' tracing, in a real Kestrel host with an in-memory exporter: predictions
/// are traced at the configured ratio, unless the caller sampled the trace; everything else always.
/// </summary>
public sealed class PredictionTracingTests
{
    private const string Predict = "/v1/models/fraud:predict";
    private const string Infer = "/v2/models/fraud/infer";
    private const string ControlPlane = "/api/models/fraud/versions";
    private const string Marker = "/api/marker";

    [Fact]
    public async Task With_ratio_zero_no_prediction_is_traced_but_every_other_request_is()
    {
        await using var host = await TracedHost.StartAsync("0");
        for (var i = 0; i < 20; i++)
        {
            await host.PostAsync(Predict);
            await host.PostAsync(Infer);
        }

        await host.PostAsync(ControlPlane);
        await host.PostAsync("/v1/models/fraud/feedback");

        var paths = await host.ExportedServerPathsAsync();
        Assert.DoesNotContain(Predict, paths);
        Assert.DoesNotContain(Infer, paths);
        Assert.Equal(1, paths.Count(p => p == ControlPlane));
        Assert.Equal(1, paths.Count(p => p == "/v1/models/fraud/feedback"));
    }

    [Fact]
    public async Task A_prediction_whose_caller_sampled_the_trace_is_traced_in_that_trace_and_one_it_did_not_is_not()
    {
        await using var host = await TracedHost.StartAsync("0");
        var sampled = ActivityTraceId.CreateRandom();
        var dropped = ActivityTraceId.CreateRandom();
        await host.PostAsync(Predict, $"00-{sampled}-{ActivitySpanId.CreateRandom()}-01");
        await host.PostAsync(Predict, $"00-{dropped}-{ActivitySpanId.CreateRandom()}-00");

        var spans = await host.ExportedServerSpansAsync();
        var traced = Assert.Single(spans, s => s.Path == Predict);
        Assert.Equal(sampled, traced.TraceId);
        Assert.DoesNotContain(spans, s => s.TraceId == dropped);
    }

    [Fact]
    public async Task With_ratio_one_every_prediction_is_traced()
    {
        await using var host = await TracedHost.StartAsync("1");
        for (var i = 0; i < 10; i++)
        {
            await host.PostAsync(Predict);
        }

        Assert.Equal(10, (await host.ExportedServerPathsAsync()).Count(p => p == Predict));
    }

    [Fact]
    public async Task With_the_default_ratio_about_that_share_of_predictions_is_traced()
    {
        await using var host = await TracedHost.StartAsync(null);
        const int Requests = 600;
        for (var i = 0; i < Requests; i++)
        {
            await host.PostAsync(Predict);
        }

        // Binomial(600, 0.05): mean 30, standard deviation about 5.3. Outside 9..58 about twice in a
        // million runs (the upper tail is the longer one); 51, four deviations up, was 1 in 9,000.
        var traced = (await host.ExportedServerPathsAsync()).Count(p => p == Predict);
        Assert.InRange(traced, 9, 58);
        Assert.Equal(0.05, PredictionTracing.DefaultRatio);
    }

    [Fact]
    public void A_ratio_outside_zero_to_one_stops_the_service_from_being_built()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration[PredictionTracing.RatioKey] = "2";
        var error = Assert.Throws<InvalidOperationException>(() => builder.AddServiceDefaults());
        Assert.Contains(PredictionTracing.RatioKey, error.Message, StringComparison.Ordinal);
    }

    private sealed class TracedHost(WebApplication app, List<Activity> exported, HttpClient client) : IAsyncDisposable
    {
        public static async Task<TracedHost> StartAsync(string? ratio)
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            if (ratio is not null)
            {
                builder.Configuration[PredictionTracing.RatioKey] = ratio;
            }

            builder.AddServiceDefaults();
            var exported = new List<Activity>();
            // The exporter adds from the thread that ends each request.
            builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(new LockedList(exported)));
            var app = builder.Build();
            app.MapPost("/v1/models/{model}:predict", () => Results.Ok());
            app.MapPost("/v1/models/{model}/feedback", () => Results.Ok());
            app.MapPost("/v2/models/{model}/infer", () => Results.Ok());
            app.MapPost("/api/models/{model}/versions", () => Results.Ok());
            app.MapPost(Marker, () => Results.Ok());
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new TracedHost(app, exported, new HttpClient { BaseAddress = new Uri(address) });
        }

        public async Task PostAsync(string path, string? traceparent = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path);
            if (traceparent is not null)
            {
                request.Headers.Add("traceparent", traceparent);
            }

            // The test's own call is not traced: its span would be the request's sampled parent.
            using var suppressed = SuppressInstrumentationScope.Begin();
            using var response = await client.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
        }

        /// <summary>
        /// The server spans exported for the requests made so far: each request's path and trace.
        /// A span is exported when its request ends, which can be just after the client has its
        /// answer; a last, always traced request on the same connection ends after all the others.
        /// </summary>
        public async Task<List<(string? Path, ActivityTraceId TraceId)>> ExportedServerSpansAsync()
        {
            var marker = ActivityTraceId.CreateRandom();
            await PostAsync(Marker, $"00-{marker}-{ActivitySpanId.CreateRandom()}-01");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                List<(string? Path, ActivityTraceId TraceId)> spans;
                lock (exported)
                {
                    spans = [.. exported.Where(a => a.Kind == ActivityKind.Server).Select(a => (a.GetTagItem("url.path") as string, a.TraceId))];
                }

                if (spans.Any(s => s.TraceId == marker))
                {
                    return [.. spans.Where(s => s.TraceId != marker)];
                }

                Assert.True(DateTime.UtcNow < deadline, $"The marker request's span was never exported (server spans: {string.Join(", ", spans.Select(s => $"{s.Path} {s.TraceId}"))}).");
                await Task.Delay(20);
            }
        }

        public async Task<List<string?>> ExportedServerPathsAsync() => [.. (await ExportedServerSpansAsync()).Select(s => s.Path)];

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>The exported spans, added under the same lock the test reads them with.</summary>
    private sealed class LockedList(List<Activity> inner) : System.Collections.ObjectModel.Collection<Activity>
    {
        protected override void InsertItem(int index, Activity item)
        {
            lock (inner)
            {
                inner.Add(item);
            }
        }
    }
}
