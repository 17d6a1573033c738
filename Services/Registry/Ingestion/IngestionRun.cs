using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;

namespace Flywheel.Registry.Ingestion;

/// <summary>
/// One ingestion from rows to storage: validates each row, batches accepted and rejected rows,
/// commits each batch (offline store, quarantine, counts) and then brings the online store up to
/// date for the entities in it. What a batch commit returned is acknowledged.
/// </summary>
public sealed class IngestionRun(ModelSchema schema, Guid id, IngestionWriter writer, OnlineStore onlineStore, int batchSize)
{
    private readonly List<RowValidation> _accepted = new(batchSize);
    private readonly List<QuarantinedRow> _rejected = [];

    // Fixed for the whole upload, so a long upload judges its rows by one clock.
    private readonly DateTimeOffset _latestTime = DateTimeOffset.UtcNow + RowValidator.MaxTimeAhead;

    public Guid Id { get; } = id;

    public IngestionReport Report { get; } = new([.. schema.Features.Select(f => f.Name)]);

    /// <summary>The line of the last row taken, so a fault after it can be placed.</summary>
    public long LastLine { get; private set; }

    public async Task AddAsync(SourceRow row)
    {
        LastLine = row.Line;
        var validation = row.Problem is null
            ? row.WithTypeErrors(RowValidator.Validate(schema, row.Values, row.Line, latestTime: _latestTime))
            : new RowValidation([new FieldError("line", row.Problem, row.Line, "format")], new Dictionary<string, object?>(), null, null, null, null);
        Report.Add(validation);
        if (validation.IsValid)
        {
            _accepted.Add(validation);
        }
        else
        {
            _rejected.Add(new QuarantinedRow(row.Line, row.Values, validation.Errors));
        }

        if (_accepted.Count + _rejected.Count >= batchSize)
        {
            await FlushAsync();
        }
    }

    /// <summary>Commits what is pending. Not cancellable: rows taken before a fault are kept.</summary>
    public async Task FlushAsync()
    {
        if (_accepted.Count + _rejected.Count == 0)
        {
            return;
        }

        Report.CountDuplicates(await writer.CommitBatchAsync(Id, schema.Name, _accepted, _rejected, CancellationToken.None));
        await onlineStore.UpdateAsync(schema.Name, _accepted);
        _accepted.Clear();
        _rejected.Clear();
    }

    public async Task FinishAsync(string? error)
    {
        await FlushAsync();
        await writer.FinishAsync(Id, Report, error, CancellationToken.None);
    }
}
