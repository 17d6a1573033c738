using System.Net;

namespace Flywheel.Console.Platform;

/// <summary>What a call to the control plane gave: its value, or a problem to show instead of a page that throws.</summary>
public sealed record ApiResult<T>(T? Value, ApiProblem? Problem) where T : class;

public static class ApiResult
{
    public static ApiResult<T> Ok<T>(T value) where T : class => new(value, null);

    public static ApiResult<T> Fail<T>(ApiProblem problem) where T : class => new(null, problem);
}

public enum ApiProblemKind
{
    NotFound,
    Unreachable,
    Timeout,
    Failed,
    Unreadable,

    /// <summary>401 or 403: no key, an unknown or revoked key, or a key without the role the call needs.</summary>
    Refused,
}

/// <summary>
/// A problem in words for the operator. Messages never carry exception text, which can name
/// internal addresses; the details go to the console's log instead.
/// </summary>
public sealed record ApiProblem(ApiProblemKind Kind, string Message)
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> NoErrors = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>
    /// A refused request's messages by field (the ProblemDetails <c>errors</c> map, field names as
    /// the API writes them, e.g. <c>canary.percent</c>), so a form can show each next to its input.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; init; } = NoErrors;

    public static ApiProblem NotFound(string? detail) =>
        new(ApiProblemKind.NotFound, string.IsNullOrWhiteSpace(detail) ? "Not found." : detail);

    public static ApiProblem Unreachable() =>
        new(ApiProblemKind.Unreachable, "The control plane could not be reached. Check that the registry is running, then reload the page.");

    public static ApiProblem Timeout() =>
        new(ApiProblemKind.Timeout, "The control plane did not answer in time. Reload the page to try again.");

    public static ApiProblem Unreadable() =>
        new(ApiProblemKind.Unreadable, "The control plane's answer could not be read; the console and the registry may be on different versions.");

    public static ApiProblem FromStatus(HttpStatusCode status, string? detail) => status switch
    {
        HttpStatusCode.NotFound => NotFound(detail),
        HttpStatusCode.Unauthorized => new(ApiProblemKind.Refused, "The platform did not accept the key: it is unknown or was revoked. Sign in again with a valid key."),
        HttpStatusCode.Forbidden => new(ApiProblemKind.Refused, "The key you signed in with may not do this: it needs the operator or admin role."),
        _ => new(ApiProblemKind.Failed, string.IsNullOrWhiteSpace(detail)
            ? $"The control plane answered HTTP {(int)status}."
            : $"The control plane answered HTTP {(int)status}: {detail}"),
    };
}
