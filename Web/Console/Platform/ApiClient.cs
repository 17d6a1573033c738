using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Console.Security;
using Polly;

namespace Flywheel.Console.Platform;

/// <summary>
/// What the console's clients of the platform share: every call answers with an
/// <see cref="ApiResult{T}"/>, so a page shows a problem in words instead of failing when a service
/// is down, slow, refuses or has no such item.
/// </summary>
public abstract partial class ApiClient(HttpClient http, ILogger logger)
{
    /// <summary>The header the platform reads a key from (besides <c>Authorization: Bearer</c>).</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Reference profiles are written with named literals allowed (a NaN survives as "NaN").
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    protected static string Escape(string segment) => Uri.EscapeDataString(segment);

    protected Task<ApiResult<T>> GetAsync<T>(string path, CancellationToken cancellationToken, PlatformCredential? credential = null) where T : class =>
        SendAsync<T>(HttpMethod.Get, path, credential, cancellationToken);

    /// <summary>A POST with an empty JSON body, as the platform's actions without options take.</summary>
    protected Task<ApiResult<T>> PostAsync<T>(string path, PlatformCredential credential, CancellationToken cancellationToken) where T : class =>
        SendAsync<T>(HttpMethod.Post, path, credential, cancellationToken);

    private async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, PlatformCredential? credential, CancellationToken cancellationToken) where T : class
    {
        try
        {
            using var request = new HttpRequestMessage(method, path);
            // Per request, never on the shared client: each circuit acts as its own person.
            credential?.ApplyTo(request);

            if (method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(new { });
            }

            using var response = await http.SendAsync(request, cancellationToken);
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
            LogUnreachable(ex, method.Method, path);
            return ApiResult.Fail<T>(ApiProblem.Unreachable());
        }
        catch (Exception ex) when (ex is TaskCanceledException or ExecutionRejectedException && !cancellationToken.IsCancellationRequested)
        {
            // HttpClient's own timeout, or the resilience pipeline giving up (attempt timeout, open circuit).
            LogUnreachable(ex, method.Method, path);
            return ApiResult.Fail<T>(ApiProblem.Timeout());
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            LogUnreadable(ex, method.Method, path);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "The platform did not answer {Method} {Path}")]
    private partial void LogUnreachable(Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The platform's answer to {Method} {Path} could not be read")]
    private partial void LogUnreadable(Exception exception, string method, string path);
}
