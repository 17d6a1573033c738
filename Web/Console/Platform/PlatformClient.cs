using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Polly;

namespace Flywheel.Console.Platform;

/// <summary>
/// The console's view of the control plane, through the Registry's API. Every call answers with
/// an <see cref="ApiResult{T}"/>: pages show a problem in words instead of failing when the
/// registry is down, slow or has no such item. Only the read endpoints are called; the console
/// holds no API key, so nothing secret can reach the browser.
/// </summary>
public sealed partial class PlatformClient(HttpClient http, ILogger<PlatformClient> logger)
{
    /// <summary>Rows of an ingestion's quarantine fetched per page.</summary>
    public const int QuarantinePageSize = 50;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Reference profiles are written with named literals allowed (a NaN survives as "NaN").
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public Task<ApiResult<PlatformInfo>> GetInfoAsync(CancellationToken cancellationToken) =>
        GetAsync<PlatformInfo>("/api/info", cancellationToken);

    public Task<ApiResult<ModelList>> GetModelsAsync(CancellationToken cancellationToken) =>
        GetAsync<ModelList>("/api/models", cancellationToken);

    public Task<ApiResult<ModelView>> GetModelAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<ModelView>($"/api/models/{Escape(model)}", cancellationToken);

    public Task<ApiResult<VersionList>> GetVersionsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<VersionList>($"/api/models/{Escape(model)}/versions", cancellationToken);

    public Task<ApiResult<ModelVersionView>> GetVersionAsync(string model, int version, CancellationToken cancellationToken) =>
        GetAsync<ModelVersionView>($"/api/models/{Escape(model)}/versions/{version}", cancellationToken);

    public Task<ApiResult<TrainingRunList>> GetTrainingRunsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<TrainingRunList>($"/api/models/{Escape(model)}/training-runs", cancellationToken);

    public Task<ApiResult<TrainingRunView>> GetTrainingRunAsync(Guid runId, CancellationToken cancellationToken) =>
        GetAsync<TrainingRunView>($"/api/training-runs/{runId}", cancellationToken);

    public Task<ApiResult<SnapshotView>> GetSnapshotAsync(string model, Guid snapshotId, CancellationToken cancellationToken) =>
        GetAsync<SnapshotView>($"/api/models/{Escape(model)}/snapshots/{snapshotId}", cancellationToken);

    public Task<ApiResult<IngestionListView>> GetIngestionsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<IngestionListView>($"/api/models/{Escape(model)}/ingestions", cancellationToken);

    public Task<ApiResult<IngestionView>> GetIngestionAsync(string model, Guid ingestionId, long offset, CancellationToken cancellationToken) =>
        GetAsync<IngestionView>(
            string.Create(CultureInfo.InvariantCulture, $"/api/models/{Escape(model)}/ingestions/{ingestionId}?offset={offset}&limit={QuarantinePageSize}"),
            cancellationToken);

    private async Task<ApiResult<T>> GetAsync<T>(string path, CancellationToken cancellationToken) where T : class
    {
        try
        {
            using var response = await http.GetAsync(path, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return ApiResult.Fail<T>(ApiProblem.FromStatus(response.StatusCode, await ReadProblemDetailAsync(response, cancellationToken)));
            }

            return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken) is { } value
                ? ApiResult.Ok(value)
                : ApiResult.Fail<T>(ApiProblem.Unreadable());
        }
        catch (HttpRequestException ex)
        {
            LogUnreachable(ex, path);
            return ApiResult.Fail<T>(ApiProblem.Unreachable());
        }
        catch (Exception ex) when (ex is TaskCanceledException or ExecutionRejectedException && !cancellationToken.IsCancellationRequested)
        {
            // HttpClient's own timeout, or the resilience pipeline giving up (attempt timeout, open circuit).
            LogUnreachable(ex, path);
            return ApiResult.Fail<T>(ApiProblem.Timeout());
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            LogUnreadable(ex, path);
            return ApiResult.Fail<T>(ApiProblem.Unreadable());
        }
    }

    /// <summary>The RFC 7807 <c>detail</c> (or <c>title</c>) of an error answer, when it has one.</summary>
    private static async Task<string?> ReadProblemDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json"))
        {
            return null;
        }

        try
        {
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return problem.RootElement.ValueKind != JsonValueKind.Object ? null
                : problem.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String ? detail.GetString()
                : problem.RootElement.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String ? title.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The control plane did not answer GET {Path}")]
    private partial void LogUnreachable(Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The control plane's answer to GET {Path} could not be read")]
    private partial void LogUnreadable(Exception exception, string path);
}

public sealed record PlatformInfo(string Service, string Version, string Environment);
