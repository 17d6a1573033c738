using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Core.Serving;
using Flywheel.Inference.PredictionLog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The prediction log writer against the platform's real PostgreSQL: every appended record is
/// stored exactly once with its JSON, a full buffer refuses and counts, an outage loses nothing,
/// daily partitions exist ahead of time, and a stopping worker flushes what it acknowledged.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class PredictionLogTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task Records_appended_from_many_tasks_are_each_stored_once_with_their_json_in_their_day_partition_once_the_writer_stops()
    {
        var model = "log-" + Guid.NewGuid().ToString("N")[..10];
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        var writer = CreateWriter(database, capacity: 100_000);
        await writer.StartAsync(CancellationToken.None);

        const int Tasks = 40, PerTask = 500;
        var appended = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(() =>
        {
            var ids = new List<Guid>(PerTask);
            for (var i = 0; i < PerTask; i++)
            {
                var record = Record(model, t * PerTask + i);
                Assert.True(writer.TryAppend(record));
                ids.Add(record.PredictionId);
            }

            return ids;
        })));
        await writer.StopAsync(CancellationToken.None);
        writer.Dispose();

        var stored = new Dictionary<Guid, (long Count, JsonElement Inputs, JsonElement Outputs, string? Caller)>();
        await using (var command = database.CreateCommand(
            "SELECT prediction_id, count(*), min(inputs::text), min(outputs::text), min(caller) FROM inference.predictions WHERE model = $1 GROUP BY prediction_id"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = model });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored[reader.GetGuid(0)] = (reader.GetInt64(1), JsonDocument.Parse(reader.GetString(2)).RootElement,
                    JsonDocument.Parse(reader.GetString(3)).RootElement, reader.IsDBNull(4) ? null : reader.GetString(4));
            }
        }

        var all = appended.SelectMany(ids => ids).ToList();
        Assert.Equal(Tasks * PerTask, all.Count);
        Assert.Equal(all.Count, stored.Count);
        Assert.All(all, id => Assert.Equal(1L, stored[id].Count));
        Assert.Equal(0, writer.Dropped);

        // The JSON is the caller's dictionaries as given: redacted PII stays redacted, numbers stay numbers.
        var sample = Record(model, 1_234);
        var (_, inputs, outputs, caller) = stored[appended[1_234 / PerTask][1_234 % PerTask]];
        Assert.Equal(Pii.Hash(model, "email", "person-1234@example.com"), inputs.GetProperty("email").GetString());
        Assert.DoesNotContain("example.com", inputs.GetRawText(), StringComparison.Ordinal);
        Assert.Equal((double)sample.Inputs["amount"]!, inputs.GetProperty("amount").GetDouble());
        Assert.Equal("travel", inputs.GetProperty("merchant_category").GetString());
        Assert.Equal(JsonValueKind.Null, inputs.GetProperty("hour").ValueKind);
        Assert.True(outputs.GetProperty("label").GetBoolean());
        Assert.Equal((double)sample.Outputs["score"]!, outputs.GetProperty("score").GetDouble(), 12);
        Assert.Equal("tester", caller);

        // Today's rows are in today's partition, none in the default one.
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        Assert.Equal(all.Count, await CountAsync(database, $"inference.{PredictionLogWriter.PartitionName(today)}", model)
            + await CountAsync(database, $"inference.{PredictionLogWriter.PartitionName(today.AddDays(-1))}", model, missingIsZero: true));
        Assert.Equal(0, await CountAsync(database, "inference.predictions_default", model));
    }

    [Fact]
    public async Task The_writer_creates_the_daily_partitions_for_today_and_the_next_two_days()
    {
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        var writer = CreateWriter(database, capacity: 10);
        await writer.StartAsync(CancellationToken.None);
        await writer.StopAsync(CancellationToken.None);
        writer.Dispose();

        var partitions = new List<string>();
        await using (var command = database.CreateCommand("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'inference.predictions'::regclass
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                partitions.Add(reader.GetString(0));
            }
        }

        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        Assert.Contains("predictions_default", partitions);
        foreach (var day in new[] { today, today.AddDays(1), today.AddDays(2) })
        {
            Assert.Contains(PredictionLogWriter.PartitionName(day), partitions);
        }
    }

    [Fact]
    public async Task A_full_buffer_refuses_the_newest_records_counts_them_and_keeps_the_ones_it_took()
    {
        var model = "full-" + Guid.NewGuid().ToString("N")[..10];
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        long droppedMeasured = 0;
        var depthMeasured = -1;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == PredictionLogWriter.MeterName && instrument.Name is PredictionLogWriter.DroppedMetric or PredictionLogWriter.DepthMetric)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == PredictionLogWriter.DroppedMetric)
            {
                Interlocked.Add(ref droppedMeasured, value);
            }
        });
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name == PredictionLogWriter.DepthMetric)
            {
                depthMeasured = value;
            }
        });
        listener.Start();

        // Not started yet: nothing drains the buffer, so it fills.
        var writer = CreateWriter(database, capacity: 100, meters.GetRequiredService<IMeterFactory>());
        var records = Enumerable.Range(0, 150).Select(i => Record(model, i)).ToList();
        var taken = records.Select(writer.TryAppend).ToList();
        listener.RecordObservableInstruments();

        Assert.All(taken.Take(100), Assert.True);
        Assert.All(taken.Skip(100), Assert.False);
        Assert.Equal(50, writer.Dropped);
        Assert.Equal(50, Interlocked.Read(ref droppedMeasured));
        Assert.Equal(100, depthMeasured);

        await writer.StartAsync(CancellationToken.None);
        await writer.StopAsync(CancellationToken.None);
        writer.Dispose();
        var stored = await IdsAsync(database, "inference.predictions", model);
        Assert.Equal(records.Take(100).Select(r => r.PredictionId).ToHashSet(), stored.ToHashSet());
        Assert.Equal(100, stored.Count);
    }

    [Fact]
    public async Task A_database_outage_holds_the_batch_and_loses_nothing_once_the_table_is_back()
    {
        var model = "outage-" + Guid.NewGuid().ToString("N")[..10];
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        var writer = CreateWriter(database, capacity: 10_000);
        await writer.StartAsync(CancellationToken.None);
        var before = Enumerable.Range(0, 500).Select(i => Record(model, i)).ToList();
        Assert.All(before, r => Assert.True(writer.TryAppend(r)));
        await WaitForCountAsync(database, "inference.predictions", model, 500);

        await ExecuteAsync(database, "ALTER TABLE inference.predictions RENAME TO predictions_offline");
        try
        {
            var during = Enumerable.Range(500, 1_000).Select(i => Record(model, i)).ToList();
            Assert.All(during, r => Assert.True(writer.TryAppend(r)));
            // Long enough for several failed attempts; nothing reaches the table meanwhile.
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(500, await CountAsync(database, "inference.predictions_offline", model));
        }
        finally
        {
            await ExecuteAsync(database, "ALTER TABLE inference.predictions_offline RENAME TO predictions");
        }

        await writer.StopAsync(CancellationToken.None);
        writer.Dispose();
        var stored = await IdsAsync(database, "inference.predictions", model);
        Assert.Equal(1_500, stored.Count);
        Assert.Equal(1_500, stored.Distinct().Count());
        Assert.Equal(0, writer.Dropped);
    }

    /// <summary>
    /// Needs the inference service's <c>:predict</c> endpoint (branch <c>inference</c>): clients
    /// predict through the gateway while the worker is sent SIGTERM; every prediction id a client
    /// received with a 200 must then be in the log.
    /// </summary>
    [Fact]
    public async Task Graceful_shutdown_under_load_loses_no_acknowledged_prediction()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("graceful", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(1_500, seed: 41));
        var runId = await TrainingData.StartRunAsync(gateway, model, new { trainer = "sdca", seed = 3 });
        var run = await TrainingData.WaitForRunAsync(gateway, runId, TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString());
        await using (var connection = await _flywheel.OpenDatabaseAsync())
        await using (var deploy = new NpgsqlCommand(
            "INSERT INTO registry.deployments (model, revision, production, updated_by) VALUES ($1, 1, 1, 'graceful-shutdown-test')", connection))
        {
            deploy.Parameters.Add(new NpgsqlParameter { Value = model });
            await deploy.ExecuteNonQueryAsync();
        }

        var body = new { instances = new object[] { new { amount = 120.5, merchant_category = "online", is_online = true, hour = 3 } } };
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            using var probe = await gateway.PostAsJsonAsync($"/v1/models/{model}:predict", body);
            if (probe.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the deployed model never served: {probe.StatusCode} {await probe.Content.ReadAsStringAsync()}");
            await Task.Delay(250);
        }

        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        using var stopClients = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stopClients.IsCancellationRequested)
            {
                try
                {
                    using var response = await gateway.PostAsJsonAsync($"/v1/models/{model}:predict", body, stopClients.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        var answer = await response.Content.ReadFromJsonAsync<JsonElement>(stopClients.Token);
                        foreach (var id in answer.GetProperty("prediction_ids").EnumerateArray())
                        {
                            acknowledged.Add(id.GetGuid());
                        }
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or JsonException)
                {
                    // The worker is going away; only answers that arrived count.
                }
            }
        })).ToList();

        var pid = await _flywheel.ServiceProcessIdAsync(ResourceNames.Inference);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.NotEmpty(acknowledged);
            using (var kill = Process.Start("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            var exited = DateTime.UtcNow + TimeSpan.FromSeconds(45);
            while (FlywheelApp.ProcessIsAlive(pid) && DateTime.UtcNow < exited)
            {
                await Task.Delay(100);
            }

            Assert.False(FlywheelApp.ProcessIsAlive(pid), "the inference worker did not exit within 45 s of SIGTERM");
            await stopClients.CancelAsync();
            await Task.WhenAll(clients);
        }
        finally
        {
            await stopClients.CancelAsync();
            await _flywheel.RestartServiceAsync(ResourceNames.Inference);
        }

        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        var stored = (await IdsAsync(database, "inference.predictions", model)).ToHashSet();
        var missing = acknowledged.Where(id => !stored.Contains(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged predictions are not in the log");
    }

    private static PredictionLogWriter CreateWriter(NpgsqlDataSource database, int capacity, IMeterFactory? meters = null) =>
        new(database,
            Options.Create(new PredictionLogOptions { Capacity = capacity, BatchSize = 5_000, FlushIntervalMilliseconds = 100, MaxRetryDelayMilliseconds = 500 }),
            meters ?? new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>(),
            NullLogger<PredictionLogWriter>.Instance);

    /// <summary>The writer stores what it is handed; any key stands in for the platform's here.</summary>
    private static readonly PiiRedaction Pii = new("prediction-log-tests-pii-key-0123456789");

    /// <summary>A record as the inference service hands it over: PII already hashed by <see cref="PiiRedaction"/>.</summary>
    private static PredictionRecord Record(string model, int i) => new(
        Guid.CreateVersion7(),
        DateTimeOffset.UtcNow,
        model,
        1,
        Shadow: i % 10 == 0,
        EntityId: $"card-{i % 97}",
        new Dictionary<string, object?>
        {
            ["amount"] = i * 1.25,
            ["merchant_category"] = "travel",
            ["hour"] = null,
            ["email"] = Pii.Hash(model, "email", $"person-{i}@example.com"),
        },
        new Dictionary<string, object?> { ["label"] = true, ["score"] = 1.0 / (i + 2) },
        LatencyMicroseconds: 100 + i,
        BatchSize: 1,
        Caller: "tester");

    private static async Task<List<Guid>> IdsAsync(NpgsqlDataSource database, string table, string model)
    {
        var ids = new List<Guid>();
        await using var command = database.CreateCommand($"SELECT prediction_id FROM {table} WHERE model = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private static async Task<long> CountAsync(NpgsqlDataSource database, string table, string model, bool missingIsZero = false)
    {
        try
        {
            await using var command = database.CreateCommand($"SELECT count(*) FROM {table} WHERE model = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = model });
            return (long)(await command.ExecuteScalarAsync())!;
        }
        catch (PostgresException exception) when (missingIsZero && exception.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0;
        }
    }

    private static async Task WaitForCountAsync(NpgsqlDataSource database, string table, string model, long expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await CountAsync(database, table, model) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{table} never held {expected} rows of {model}");
            await Task.Delay(50);
        }
    }

    private static async Task ExecuteAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
