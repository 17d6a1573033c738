using Flywheel.Core.Telemetry;

namespace Flywheel.Core.Tests.Telemetry;

public sealed class FailureReasonsTests
{
    [Theory]
    [InlineData("Npgsql.PostgresException", "23505: duplicate key value violates unique constraint \"model_versions_pkey\"", "the database failed (PostgresException)")]
    [InlineData("Npgsql.NpgsqlException", "Failed to connect to 10.0.3.7:5432", "the database failed (NpgsqlException)")]
    [InlineData("Azure.RequestFailedException", "Status: 403 (This request is not authorized) ErrorCode: AuthorizationPermissionMismatch", "Blob storage failed (RequestFailedException)")]
    [InlineData("System.Net.Http.HttpRequestException", "Connection refused (registry.internal:8443)", "the network failed (HttpRequestException)")]
    [InlineData("System.Net.Sockets.SocketException", "Connection refused 127.0.0.1:41234", "the network failed (SocketException)")]
    [InlineData("RabbitMQ.Client.Exceptions.BrokerUnreachableException", "None of the specified endpoints were reachable", "the message bus failed (BrokerUnreachableException)")]
    [InlineData("System.TimeoutException", "The operation has timed out after 00:00:30 talking to 10.1.2.3", "an operation that timed out failed (TimeoutException)")]
    public void Infrastructure_failures_are_named_by_kind_without_their_message(string type, string message, string expected)
    {
        var reason = FailureReasons.Describe(type, message);

        Assert.StartsWith(expected, reason, StringComparison.Ordinal);
        Assert.DoesNotContain(message, reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("System.InvalidOperationException", "The snapshot holds 4 labelled rows; training needs at least 50.")]
    [InlineData("Flywheel.Trainer.Jobs.TrainingFailedException", "LightGBM could not fit: the label has one class.")]
    public void The_platforms_own_reasons_are_kept_as_written(string type, string message)
    {
        Assert.Equal(message, FailureReasons.Describe(type, message));
    }

    [Fact]
    public void Nothing_known_is_an_unknown_error_and_a_type_without_a_message_is_named()
    {
        Assert.Equal("unknown error", FailureReasons.Describe(null, null));
        Assert.Equal("Only the message", FailureReasons.Describe(null, "Only the message"));
        Assert.Equal("ArgumentException", FailureReasons.Describe("System.ArgumentException", ""));
    }
}
