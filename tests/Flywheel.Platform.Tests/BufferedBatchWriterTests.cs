using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Flywheel.Inference.PredictionLog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The buffered batch writer both logs share, with the database replaced by a list: batches, the
/// full buffer, retries, the refused entry and the drain on stop. No platform needed.
/// </summary>
public sealed class BufferedBatchWriterTests
{
    [Fact]
    public async Task Every_entry_is_written_once_in_order_in_batches_no_larger_than_the_batch_size()
    {
        var writer = new ListWriter(capacity: 1_000, batchSize: 7);
        await writer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(writer.Append(i));
        }

        await writer.StopAsync(CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 100), writer.Written);
        Assert.All(writer.Batches, size => Assert.InRange(size, 1, 7));
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public async Task A_full_buffer_refuses_and_counts_the_newest_entry_and_keeps_the_ones_it_holds()
    {
        var writer = new ListWriter(capacity: 3, batchSize: 10);
        // Not started: nothing drains the buffer.
        Assert.True(writer.Append(1));
        Assert.True(writer.Append(2));
        Assert.True(writer.Append(3));
        Assert.False(writer.Append(4));
        Assert.Equal(1, writer.Dropped);
        Assert.Equal(3, writer.Depth);

        await writer.StartAsync(CancellationToken.None);
        await writer.StopAsync(CancellationToken.None);
        Assert.Equal([1, 2, 3], writer.Written);
    }

    [Fact]
    public async Task A_failed_write_is_retried_until_it_succeeds_and_loses_nothing()
    {
        var writer = new ListWriter(capacity: 100, batchSize: 100) { TransientFailures = 3 };
        await writer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 20; i++)
        {
            writer.Append(i);
        }

        await writer.StopAsync(CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 20), writer.Written);
        Assert.Equal(0, writer.TransientFailures);
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public async Task An_entry_the_database_refuses_is_dropped_alone_and_the_rest_of_its_batch_is_written()
    {
        var writer = new ListWriter(capacity: 100, batchSize: 100) { Refused = 13 };
        // Buffered before the loop starts, so all twenty go into one batch that holds the bad one.
        for (var i = 0; i < 20; i++)
        {
            writer.Append(i);
        }

        await writer.StartAsync(CancellationToken.None);
        await writer.StopAsync(CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 13), writer.Written);
        Assert.Equal(1, writer.Dropped);
    }

    [Fact]
    public async Task A_full_batch_is_written_at_once_and_a_partial_one_waits_for_the_flush_interval_or_the_stop()
    {
        var writer = new ListWriter(capacity: 100, batchSize: 5, flushInterval: TimeSpan.FromHours(1));
        await writer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            writer.Append(i);
        }

        // A full batch does not wait the hour.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (writer.Written.Count < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(Enumerable.Range(0, 5), writer.Written);

        // Three more are a partial batch: they wait for the interval, and stopping writes them.
        for (var i = 5; i < 8; i++)
        {
            writer.Append(i);
        }

        await Task.Delay(300);
        Assert.Equal(5, writer.Written.Count);
        Assert.Equal(3, writer.Depth);
        await writer.StopAsync(CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, 8), writer.Written);
        Assert.Equal([5, 3], writer.Batches);
    }

    /// <summary>Writes int entries to a list; can fail a number of times first, or refuse one value as bad data.</summary>
    private sealed class ListWriter(int capacity, int batchSize, TimeSpan? flushInterval = null) : BufferedBatchWriter<string>(
        "test entries", capacity, batchSize, flushInterval ?? TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20),
        new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>().Create("test").CreateCounter<long>("dropped"),
        written: null, TimeProvider.System, NullLogger.Instance)
    {
        private readonly ConcurrentQueue<int> _written = new();
        private readonly ConcurrentQueue<int> _batches = new();

        public int TransientFailures { get; set; }

        public int? Refused { get; init; }

        public IReadOnlyList<int> Written => [.. _written];

        public IReadOnlyList<int> Batches => [.. _batches];

        public bool Append(int value) => TryBuffer(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

        protected override Task WriteAsync(IReadOnlyList<string> batch, CancellationToken cancellationToken)
        {
            if (TransientFailures > 0)
            {
                TransientFailures--;
                throw new NpgsqlException("connection refused");
            }

            var values = batch.Select(int.Parse).ToList();
            if (Refused is { } bad && values.Contains(bad))
            {
                throw new PostgresException("invalid input syntax", "ERROR", "ERROR", "22P02");
            }

            _batches.Enqueue(values.Count);
            foreach (var value in values)
            {
                _written.Enqueue(value);
            }

            return Task.CompletedTask;
        }

        protected override string ModelOf(string entry) => "test";

        protected override string Describe(string entry) => $"test entry {entry}";
    }
}
