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

    /// <summary>A POST whose body is <paramref name="body"/>, written snake_case as the platform reads it.</summary>
    protected Task<ApiResult<T>> PostAsync<T>(string path, object body, PlatformCredential credential, CancellationToken cancellationToken) where T : class =>
        SendAsync<T>(HttpMethod.Post, path, credential, cancellationToken, body);

    /// <summary>A PUT whose body is <paramref name="body"/>, written snake_case as the platform reads it.</summary>
    protected Task<ApiResult<T>> PutAsync<T>(string path, object body, PlatformCredential credential, CancellationToken cancellationToken) where T : class =>
        SendAsync<T>(HttpMethod.Put, path, credential, cancellationToken, body);

    /// <summary>A DELETE; the platform answers 204 with no body, so success is <see cref="Done"/>.</summary>
    protected Task<ApiResult<Done>> DeleteAsync(string path, PlatformCredential credential, CancellationToken cancellationToken) =>
        SendAsync<Done>(HttpMethod.Delete, path, credential, cancellationToken);

    private async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, PlatformCredential? credential, CancellationToken cancellationToken, object? body = null) where T : class
    {
        try
        {
            using var request = new HttpRequestMessage(method, path);
            // Per request, never on the shared client: each circuit acts as its own person.
            credential?.ApplyTo(request);

            if (body is not null)
            {
                request.Content = JsonContent.Create(body, body.GetType(), options: Json);
            }
            else if (method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(new { });
            }

            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return ApiResult.Fail<T>(await ReadProblemAsync(response, cancellationToken));
            }

            if (typeof(T) == typeof(Done))
            {
                // An answer without a body (204): that it succeeded is all there is to read.
                return ApiResult.Ok((T)(object)Done.Value);
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

    /// <summary>An error answer as a problem: its status, its RFC 7807 <c>detail</c> (or <c>title</c>) and its <c>errors</c> by field, when it has them.</summary>
    private static async Task<ApiProblem> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json"))
        {
            return ApiProblem.FromStatus(response.StatusCode, null);
        }

        try
        {
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return ApiProblem.FromStatus(response.StatusCode, null);
            }

            var root = document.RootElement;
            var detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()
                : root.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String ? title.GetString()
                : null;
            var errors = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            if (root.TryGetProperty("errors", out var fields) && fields.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in fields.EnumerateObject())
                {
                    errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                        ? [.. field.Value.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.String).Select(m => m.GetString()!)]
                        : [];
                }
            }

            // Without field errors the problem keeps the shared empty map, so equal problems stay equal records.
            var problem = ApiProblem.FromStatus(response.StatusCode, detail);
            return errors.Count == 0 ? problem : problem with { Errors = errors };
        }
        catch (JsonException)
        {
            return ApiProblem.FromStatus(response.StatusCode, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The platform did not answer {Method} {Path}")]
    private partial void LogUnreachable(Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The platform's answer to {Method} {Path} could not be read")]
    private partial void LogUnreadable(Exception exception, string method, string path);
}

/// <summary>What a call that answers without a body (204 No Content) gives when it succeeds.</summary>
public sealed record Done
{
    public static readonly Done Value = new();

    private Done()
    {
    }
}
