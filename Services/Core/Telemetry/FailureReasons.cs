namespace Flywheel.Core.Telemetry;

/// <summary>
/// What a failed step tells the people who read it (run, job and rollout views are open to
/// anyone): the platform's own exceptions carry sentences written for them, but an exception from
/// the database, the network, storage or the message bus can carry internal names, addresses and
/// error codes, so for those only the kind of failure and the exception's type are given; the
/// service's log has the rest.
/// </summary>
public static class FailureReasons
{
    private static readonly (string Prefix, string Kind)[] Internal =
    [
        ("Npgsql.", "the database"),
        ("System.Data.", "the database"),
        ("StackExchange.Redis.", "the online store (Redis)"),
        ("Azure.", "Blob storage"),
        ("RabbitMQ.", "the message bus"),
        ("MassTransit.", "the message bus"),
        ("System.Net.", "the network"),
        ("System.IO.", "reading or writing a file or stream"),
        ("System.TimeoutException", "an operation that timed out"),
        ("System.Threading.Tasks.TaskCanceledException", "an operation that was cancelled or timed out"),
        ("System.OperationCanceledException", "an operation that was cancelled or timed out"),
    ];

    /// <summary>The reason to show for an exception of <paramref name="exceptionType"/> (its full name) with <paramref name="message"/>.</summary>
    public static string Describe(string? exceptionType, string? message)
    {
        if (string.IsNullOrEmpty(exceptionType))
        {
            return string.IsNullOrWhiteSpace(message) ? "unknown error" : message;
        }

        foreach (var (prefix, kind) in Internal)
        {
            if (exceptionType.StartsWith(prefix, StringComparison.Ordinal))
            {
                return $"{kind} failed ({ShortName(exceptionType)}); the service's log has the details";
            }
        }

        return string.IsNullOrWhiteSpace(message) ? ShortName(exceptionType) : message;
    }

    private static string ShortName(string exceptionType) => exceptionType[(exceptionType.LastIndexOf('.') + 1)..];
}
