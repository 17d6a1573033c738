using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Flywheel.Console.Tests.Fakes;

/// <summary>
/// The registry's API as canned answers, by path and query. A path given several answers gives
/// them in turn and then repeats the last. A request with no canned answer gets a 500 and is
/// listed in <see cref="Unexpected"/>, so a test cannot pass on an answer it did not mean.
/// </summary>
public sealed class FakeRegistry : HttpMessageHandler
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<Func<HttpResponseMessage>>> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<string> _unexpected = new();
    private readonly ConcurrentQueue<SentRequest> _sent = new();
    private readonly ConcurrentDictionary<string, (Task Release, int After)> _holds = new(StringComparer.Ordinal);
    private bool _down;

    public IReadOnlyList<string> Requests => [.. _requests];

    public IReadOnlyList<string> Unexpected => [.. _unexpected];

    /// <summary>Every request with its method and the API key it carried (null: none).</summary>
    public IReadOnlyList<SentRequest> Sent => [.. _sent];

    public int Count(string pathAndQuery) => _requests.Count(r => r == pathAndQuery);

    public FakeRegistry Json(string pathAndQuery, params string[] bodies)
    {
        var queue = _answers.GetOrAdd(pathAndQuery, _ => new());
        foreach (var body in bodies)
        {
            queue.Enqueue(() => new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            });
        }

        return this;
    }

    /// <summary>An RFC 7807 answer, as the registry gives for a model, version or run it does not have.</summary>
    public FakeRegistry Problem(string pathAndQuery, HttpStatusCode status, string title, string detail)
    {
        var body = $$"""{ "type": "https://tools.ietf.org/html/rfc9110", "title": "{{title}}", "status": {{(int)status}}, "detail": "{{detail}}" }""";
        _answers.GetOrAdd(pathAndQuery, _ => new()).Enqueue(() => new HttpResponseMessage(status)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/problem+json"),
        });
        return this;
    }

    /// <summary>
    /// An answer for one method on a path (a POST and a GET of <c>/api/keys</c> answer differently);
    /// it is looked up before the answers for any method.
    /// </summary>
    public FakeRegistry Answer(string method, string pathAndQuery, HttpStatusCode status, string? body = null, string mediaType = "application/json")
    {
        _answers.GetOrAdd($"{method} {pathAndQuery}", _ => new()).Enqueue(() => new HttpResponseMessage(status)
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, mediaType),
        });
        return this;
    }

    /// <summary>A 400 ValidationProblem with its <c>errors</c> map, as the registry refuses a request by field.</summary>
    public FakeRegistry Invalid(string method, string pathAndQuery, string title, string errors) => Answer(
        method, pathAndQuery, HttpStatusCode.BadRequest,
        $$"""{ "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1", "title": "{{title}}", "status": 400, "errors": {{errors}} }""",
        "application/problem+json");

    /// <summary>
    /// Answers to <paramref name="pathAndQuery"/> wait until <paramref name="release"/> completes: a
    /// slow registry, for answers that arrive out of order, or a page held at one state while a test
    /// looks at it. The first <paramref name="after"/> requests are answered at once.
    /// </summary>
    public FakeRegistry HoldUntil(string pathAndQuery, Task release, int after = 0)
    {
        _holds[pathAndQuery] = (release, after);
        return this;
    }

    /// <summary>Every request fails as when nothing listens at the registry's address.</summary>
    public FakeRegistry Down()
    {
        _down = true;
        return this;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var key = request.RequestUri!.PathAndQuery;
        _requests.Enqueue(key);
        _sent.Enqueue(new SentRequest(request.Method.Method, key,
            request.Headers.TryGetValues("X-Api-Key", out var keys) ? keys.Single() : null,
            request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken),
            request.Headers.TryGetValues("X-Flywheel-User", out var users) ? users.Single() : null,
            request.Headers.TryGetValues("X-Flywheel-User-Roles", out var roles) ? roles.Single() : null));
        if (_down)
        {
            throw new HttpRequestException("Connection refused (registry.internal:8443)", null, null);
        }

        if ((!_answers.TryGetValue($"{request.Method.Method} {key}", out var queue) || queue.IsEmpty) &&
            (!_answers.TryGetValue(key, out queue) || queue.IsEmpty))
        {
            _unexpected.Enqueue(key);
            return new HttpResponseMessage(HttpStatusCode.InternalServerError)
            {
                Content = new StringContent($"no canned answer for {key}"),
            };
        }

        if (_holds.TryGetValue(key, out var hold) && Count(key) > hold.After)
        {
            await hold.Release.WaitAsync(cancellationToken);
        }

        // The last answer stays, so a page that polls keeps getting it.
        var answer = queue.Count > 1 && queue.TryDequeue(out var next) ? next : queue.TryPeek(out var last) ? last : throw new InvalidOperationException(key);
        return answer();
    }
}

/// <summary>A request the console sent: the key it carried, its body, and, when the console acted for a person, their name and roles.</summary>
/// <param name="Body">The request's body as sent (JSON), null when it had none.</param>
public sealed record SentRequest(string Method, string PathAndQuery, string? ApiKey, string? Body = null, string? User = null, string? UserRoles = null);
