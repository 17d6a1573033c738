using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Context;
using MassTransit.Saga;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Flywheel.Orchestrator.Sagas;

/// <summary>
/// A state machine instance kept in a PostgreSQL table as JSON. The messages its behaviour emits
/// go into <see cref="Outgoing"/> and are written to the schema's outbox in the same transaction
/// as the new state, so a state change and the messages it causes commit together or not at all.
/// </summary>
public interface IPersistedSaga : SagaStateMachineInstance
{
    string CurrentState { get; set; }

    int Version { get; set; }

    [JsonIgnore]
    List<object> Outgoing { get; }
}

/// <summary>Where a saga type lives: its table (columns correlation_id, version, current_state, model, data) and its schema's outbox.</summary>
public sealed record SagaTable<TSaga>(string Schema, string Table, Func<TSaga, string> Model)
    where TSaga : class, IPersistedSaga;

/// <summary>
/// MassTransit saga repository on PostgreSQL (the EF Core and Marten integrations are not
/// available here). Each message is handled in one transaction that locks the instance's row
/// (<c>SELECT ... FOR UPDATE</c>), so messages for one run are applied one at a time and a
/// redelivered message sees the state its first delivery committed.
/// </summary>
public sealed class PostgresSagaRepositoryContextFactory<TSaga>(
    NpgsqlDataSource database, SagaTable<TSaga> table, ISagaConsumeContextFactory<PostgresSagaSession, TSaga> factory)
    : ISagaRepositoryContextFactory<TSaga>
    where TSaga : class, IPersistedSaga
{
    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TSaga, T>> next)
        where T : class
    {
        await using var connection = await database.OpenConnectionAsync(context.CancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(context.CancellationToken);
        var session = new PostgresSagaSession(connection, transaction);
        var repositoryContext = new PostgresSagaRepositoryContext<TSaga, T>(session, table, context, factory);
        await next.Send(repositoryContext);
        await transaction.CommitAsync(context.CancellationToken);
    }

    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TSaga> query, IPipe<SagaRepositoryQueryContext<TSaga, T>> next)
        where T : class =>
        throw new NotSupportedException($"{typeof(TSaga).Name} instances are correlated by id only.");

    public void Probe(ProbeContext context) => context.Add("persistence", "postgresql");
}

/// <summary>The connection and transaction one message is handled in.</summary>
public sealed record PostgresSagaSession(NpgsqlConnection Connection, NpgsqlTransaction Transaction);

public sealed class PostgresSagaRepositoryContext<TSaga, TMessage> : ConsumeContextScope<TMessage>, SagaRepositoryContext<TSaga, TMessage>
    where TSaga : class, IPersistedSaga
    where TMessage : class
{
    private readonly PostgresSagaSession session;
    private readonly SagaTable<TSaga> table;
    private readonly ConsumeContext<TMessage> consumeContext;
    private readonly ISagaConsumeContextFactory<PostgresSagaSession, TSaga> factory;

    public PostgresSagaRepositoryContext(
        PostgresSagaSession session, SagaTable<TSaga> table, ConsumeContext<TMessage> consumeContext, ISagaConsumeContextFactory<PostgresSagaSession, TSaga> factory)
        : base(consumeContext)
    {
        this.session = session;
        this.table = table;
        this.consumeContext = consumeContext;
        this.factory = factory;
    }

    internal static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web);

    private string Qualified => $"{table.Schema}.{table.Table}";

    public Task<SagaConsumeContext<TSaga, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> consumeContext, TSaga instance, SagaConsumeContextMode mode)
        where T : class =>
        factory.CreateSagaConsumeContext(session, consumeContext, instance, mode);

    public Task<SagaConsumeContext<TSaga, TMessage>> Add(TSaga instance) =>
        factory.CreateSagaConsumeContext(session, consumeContext, instance, SagaConsumeContextMode.Add);

    public async Task<SagaConsumeContext<TSaga, TMessage>> Insert(TSaga instance)
    {
        await using var command = Command($"""
            INSERT INTO {Qualified} (correlation_id, version, current_state, model, data)
            VALUES ($1, 1, $2, $3, $4::jsonb) ON CONFLICT (correlation_id) DO NOTHING
            """);
        instance.Version = 1;
        command.Parameters.Add(new NpgsqlParameter { Value = instance.CorrelationId });
        command.Parameters.Add(new NpgsqlParameter { Value = instance.CurrentState ?? "Initial" });
        command.Parameters.Add(new NpgsqlParameter { Value = table.Model(instance) });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(instance, SerializerOptions) });
        return await command.ExecuteNonQueryAsync(CancellationToken) == 1
            ? await factory.CreateSagaConsumeContext(session, consumeContext, instance, SagaConsumeContextMode.Insert)
            : null!;
    }

    public async Task<SagaConsumeContext<TSaga, TMessage>> Load(Guid correlationId)
    {
        await using var command = Command($"SELECT data::text FROM {Qualified} WHERE correlation_id = $1 FOR UPDATE");
        command.Parameters.Add(new NpgsqlParameter { Value = correlationId });
        if (await command.ExecuteScalarAsync(CancellationToken) is not string json)
        {
            return null!;
        }

        var instance = JsonSerializer.Deserialize<TSaga>(json, SerializerOptions)
            ?? throw new InvalidOperationException($"Saga {correlationId} has no data.");
        return await factory.CreateSagaConsumeContext(session, consumeContext, instance, SagaConsumeContextMode.Load);
    }

    public async Task Save(SagaConsumeContext<TSaga> context)
    {
        var instance = context.Saga;
        instance.Version = 1;
        await using (var command = Command($"""
            INSERT INTO {Qualified} (correlation_id, version, current_state, model, data) VALUES ($1, 1, $2, $3, $4::jsonb)
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = instance.CorrelationId });
            command.Parameters.Add(new NpgsqlParameter { Value = instance.CurrentState });
            command.Parameters.Add(new NpgsqlParameter { Value = table.Model(instance) });
            command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(instance, SerializerOptions) });
            await command.ExecuteNonQueryAsync(CancellationToken);
        }

        await FlushOutgoingAsync(instance);
    }

    public async Task Update(SagaConsumeContext<TSaga> context)
    {
        var instance = context.Saga;
        var expected = instance.Version;
        instance.Version = expected + 1;
        await using (var command = Command($"""
            UPDATE {Qualified} SET version = $2, current_state = $3, data = $4::jsonb, updated_at = now()
            WHERE correlation_id = $1 AND version = $5
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = instance.CorrelationId });
            command.Parameters.Add(new NpgsqlParameter { Value = instance.Version });
            command.Parameters.Add(new NpgsqlParameter { Value = instance.CurrentState });
            command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(instance, SerializerOptions) });
            command.Parameters.Add(new NpgsqlParameter { Value = expected });
            if (await command.ExecuteNonQueryAsync(CancellationToken) != 1)
            {
                throw new SagaException("The saga changed while this message was handled; it will be retried.", typeof(TSaga), instance.CorrelationId);
            }
        }

        await FlushOutgoingAsync(instance);
    }

    public async Task Delete(SagaConsumeContext<TSaga> context)
    {
        await using var command = Command($"DELETE FROM {Qualified} WHERE correlation_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = context.Saga.CorrelationId });
        await command.ExecuteNonQueryAsync(CancellationToken);
        await FlushOutgoingAsync(context.Saga);
    }

    public Task Discard(SagaConsumeContext<TSaga> context)
    {
        context.Saga.Outgoing.Clear();
        return Task.CompletedTask;
    }

    public Task Undo(SagaConsumeContext<TSaga> context)
    {
        context.Saga.Outgoing.Clear();
        return Task.CompletedTask;
    }

    private async Task FlushOutgoingAsync(TSaga instance)
    {
        foreach (var message in instance.Outgoing)
        {
            await Outbox.EnqueueAsync(session.Connection, session.Transaction, table.Schema, message, CancellationToken);
        }

        instance.Outgoing.Clear();
    }

    private NpgsqlCommand Command(string sql) => new(sql, session.Connection, session.Transaction);
}

public static class PostgresSagaRepositoryRegistration
{
    /// <summary>Keeps <typeparamref name="TSaga"/> in PostgreSQL (see <see cref="PostgresSagaRepositoryContextFactory{TSaga}"/>).</summary>
    public static ISagaRegistrationConfigurator<TSaga> PostgresRepository<TSaga>(this ISagaRegistrationConfigurator<TSaga> configurator, SagaTable<TSaga> table)
        where TSaga : class, IPersistedSaga
    {
        configurator.Repository(repository =>
        {
            repository.TryAddSingleton(table);
            repository.RegisterSagaRepository<TSaga, PostgresSagaSession, SagaConsumeContextFactory<PostgresSagaSession, TSaga>,
                PostgresSagaRepositoryContextFactory<TSaga>>();
        });
        return configurator;
    }
}
