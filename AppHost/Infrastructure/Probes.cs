using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Flywheel.AppHost.Infrastructure;

/// <summary>
/// Health probes that speak each server's protocol. A TCP connect alone proves nothing: the
/// endpoint proxy in front of each server accepts connections while the server is still down.
/// </summary>
internal static class Probes
{
    public static async Task PostgresAsync(EndpointReference endpoint, string password, CancellationToken cancellationToken)
    {
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = endpoint.Port,
            Username = "postgres",
            Password = password,
            Database = "postgres",
            Pooling = false,
            Timeout = 3,
        }.ConnectionString;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync(cancellationToken);
    }

    public static async Task RedisAsync(EndpointReference endpoint, string password, CancellationToken cancellationToken)
    {
        var reply = await ExchangeAsync(endpoint, Encoding.ASCII.GetBytes($"AUTH {password}\r\nPING\r\n"), "+PONG\r\n", cancellationToken);
        if (!reply.EndsWith("+PONG\r\n", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Redis answered '{reply.Trim()}' instead of PONG.");
        }
    }

    /// <summary>Sends the AMQP 0-9-1 protocol header; a broker that is up answers with a Connection.Start method frame.</summary>
    public static async Task AmqpAsync(EndpointReference endpoint, CancellationToken cancellationToken)
    {
        var reply = await ExchangeAsync(endpoint, [(byte)'A', (byte)'M', (byte)'Q', (byte)'P', 0, 0, 9, 1], expectedEnd: null, cancellationToken);
        if (reply.Length == 0 || reply[0] != '\u0001')
        {
            throw new InvalidOperationException("The broker did not answer the AMQP protocol header with Connection.Start.");
        }
    }

    /// <summary>Any HTTP answer (403 without credentials) means Azurite's Blob service is serving.</summary>
    public static async Task AzuriteAsync(EndpointReference endpoint, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{endpoint.Port}/{LocalSecrets.AzuriteAccount}?comp=list"), cancellationToken);
    }

    private static async Task<string> ExchangeAsync(EndpointReference endpoint, byte[] request, string? expectedEnd, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync(request, cancellationToken);
        var buffer = new byte[4096];
        var received = new StringBuilder();
        while (true)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return received.ToString();
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
            if (expectedEnd is null || received.ToString().EndsWith(expectedEnd, StringComparison.Ordinal) || received.ToString().Contains("-ERR", StringComparison.Ordinal))
            {
                return received.ToString();
            }
        }
    }
}

internal sealed class ProbeHealthCheck(Func<CancellationToken, Task> probe) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await probe(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy(ex.Message, ex);
        }
    }
}
