using System.Text.Json;
using Flywheel.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A transactional outbox in PostgreSQL (MassTransit's EF outbox is not available here): a service
/// writes the messages a change causes into <c>{schema}.outbox</c> in the change's own
/// transaction, and <see cref="OutboxDispatcher"/> publishes them once committed. A crash between
/// publish and marking the row sent publishes it again, so every consumer is idempotent; nothing
/// committed is ever lost and nothing is published for a change that rolled back.
/// </summary>
public static class Outbox
{
    public static JsonSerializerOptions SerializerOptions { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Writes <paramref name="message"/> (a Flywheel contract) to be published once <paramref name="transaction"/> commits.</summary>
    public static async Task EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, object message, CancellationToken cancellationToken)
    {
        var type = message.GetType();
        await using var command = new NpgsqlCommand(
            $"WITH added AS (INSERT INTO {schema}.outbox (message_type, body) VALUES ($1, $2::jsonb) RETURNING id) SELECT pg_notify('{Channel(schema)}', '') FROM added",
            connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = type.FullName! });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(message, type, SerializerOptions) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static string Channel(string schema) => $"{schema}_outbox";

    /// <summary>Publishes what this service writes to <c>{schema}.outbox</c>.</summary>
    public static TBuilder AddOutbox<TBuilder>(this TBuilder builder, string schema)
        where TBuilder : IHostApplicationBuilder
    {
        if (!DatabaseSchemas.All.Contains(schema))
        {
            throw new ArgumentException($"'{schema}' is not a Flywheel schema.", nameof(schema));
        }

        builder.Services.AddHostedService(services => new OutboxDispatcher(
            schema,
            services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<IServiceScopeFactory>(),
            services.GetRequiredService<ILogger<OutboxDispatcher>>()));
        return builder;
    }
}

/// <summary>
/// Publishes committed outbox rows in order. It wakes on the NOTIFY the writer sends with the
/// row, and polls every few seconds as well, so a missed notification only delays a message.
/// </summary>
public sealed partial class OutboxDispatcher(string schema, NpgsqlDataSource database, IServiceScopeFactory scopes, ILogger<OutboxDispatcher> logger)
    : BackgroundService
{
    private const int BatchSize = 100;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(3);
    private static readonly Dictionary<string, Type> MessageTypes = typeof(DatabaseSchemas).Assembly.GetTypes()
        .Where(t => t.FullName is not null)
        .ToDictionary(t => t.FullName!, StringComparer.Ordinal);

    private readonly SemaphoreSlim _wake = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = ListenAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DispatchBatchAsync(stoppingToken) == BatchSize)
                {
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogDispatchFailed(exception, schema);
            }

            try
            {
                await _wake.WaitAsync(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<int> DispatchBatchAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var batch = new List<(long Id, string Type, string Body)>();
        await using (var select = new NpgsqlCommand(
            $"SELECT id, message_type, body::text FROM {schema}.outbox WHERE sent_at IS NULL ORDER BY id LIMIT {BatchSize} FOR UPDATE SKIP LOCKED",
            connection, transaction))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                batch.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        if (batch.Count == 0)
        {
            return 0;
        }

        using (var scope = scopes.CreateScope())
        {
            var publisher = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            foreach (var (_, typeName, body) in batch)
            {
                if (!MessageTypes.TryGetValue(typeName, out var type))
                {
                    throw new InvalidOperationException($"Outbox message type '{typeName}' is not a Flywheel contract.");
                }

                var message = JsonSerializer.Deserialize(body, type, Outbox.SerializerOptions)!;
                await publisher.Publish(message, type, cancellationToken);
            }
        }

        await using (var update = new NpgsqlCommand($"UPDATE {schema}.outbox SET sent_at = now() WHERE id = ANY($1)", connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = batch.Select(m => m.Id).ToArray() });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return batch.Count;
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, _) => _wake.Release();
                await using (var listen = new NpgsqlCommand($"LISTEN {Outbox.Channel(schema)}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }

                while (!cancellationToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception exception)
            {
                LogListenFailed(exception, schema);
                await Task.Delay(PollInterval, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing the {Schema} outbox failed; it will be retried")]
    private partial void LogDispatchFailed(Exception exception, string schema);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for {Schema} outbox notifications failed; polling until it reconnects")]
    private partial void LogListenFailed(Exception exception, string schema);

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
