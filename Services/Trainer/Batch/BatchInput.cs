using System.Globalization;
using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;
using Flywheel.Training;
using Npgsql;

namespace Flywheel.Trainer.Batch;

/// <summary>
/// The rows of a batch job as it scores them (<see cref="Rows"/>, typed features) and as it writes
/// them back (<see cref="Columns"/> and <see cref="Raw"/>: an upload's columns and text exactly as
/// given; a snapshot's features in schema order, written invariantly).
/// </summary>
public sealed record BatchInput(IReadOnlyList<string> Columns, IReadOnlyList<string?[]> Raw, IReadOnlyList<TrainingRow> Rows)
{
    public static async Task<BatchInput> FromSnapshotAsync(
        NpgsqlDataSource database, Guid snapshotId, ModelSchema schema, CancellationToken cancellationToken)
    {
        string[] columns = [.. schema.Features.Select(f => f.Name)];
        var raw = new List<string?[]>();
        var rows = new List<TrainingRow>();
        await using var command = database.CreateCommand("SELECT features::text FROM registry.snapshot_rows WHERE snapshot_id = $1 ORDER BY ordinal");
        command.Parameters.Add(new NpgsqlParameter { Value = snapshotId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var document = JsonDocument.Parse(reader.GetString(0));
            var texts = new string?[columns.Length];
            var values = new Dictionary<string, object?>(columns.Length, StringComparer.Ordinal);
            for (var i = 0; i < columns.Length; i++)
            {
                var feature = schema.Features[i];
                var value = document.RootElement.TryGetProperty(feature.Name, out var element) ? Typed(element, feature) : null;
                values[feature.Name] = value;
                texts[i] = value switch
                {
                    null => null,
                    bool flag => flag ? "true" : "false",
                    double number => number.ToString("R", CultureInfo.InvariantCulture),
                    _ => Convert.ToString(value, CultureInfo.InvariantCulture),
                };
            }

            raw.Add(texts);
            rows.Add(new TrainingRow(null, values, null));
        }

        return new BatchInput(columns, raw, rows);
    }

    public static async Task<BatchInput> FromUploadAsync(BlobServiceClient blobs, string blobName, ModelSchema schema, CancellationToken cancellationToken)
    {
        var download = await blobs.GetBlobContainerClient(BlobContainers.Data).GetBlobClient(blobName).DownloadStreamingAsync(cancellationToken: cancellationToken);
        await using var content = download.Value.Content;
        using var text = new StreamReader(content);
        var csv = new CsvRecordReader(text);
        var header = csv.Read() ?? throw new BatchScoringException("the uploaded file is empty");
        var raw = new List<string?[]>();
        var rows = new List<TrainingRow>();
        while (csv.Read() is { } record)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (record.Length != header.Length)
            {
                throw new BatchScoringException($"line {csv.Line}: {record.Length} fields where the header has {header.Length}");
            }

            var fields = new Dictionary<string, string?>(header.Length, StringComparer.Ordinal);
            for (var i = 0; i < header.Length; i++)
            {
                fields[header[i]] = record[i];
            }

            var validation = Validate(schema, fields, csv.Line);
            if (validation.Errors.Count > 0)
            {
                var error = validation.Errors[0];
                throw new BatchScoringException($"line {csv.Line}, {error.Field}: {error.Message}");
            }

            raw.Add(record);
            rows.Add(new TrainingRow(null, validation.Features, null));
        }

        return new BatchInput(header, raw, rows);
    }

    /// <summary>
    /// A row to score is checked like an ingested one, except that nothing beyond the features is
    /// required: scoring needs no entity id (the features are all given) and no target.
    /// </summary>
    public static RowValidation Validate(ModelSchema schema, IReadOnlyDictionary<string, string?> row, long line)
    {
        var validation = RowValidator.Validate(schema, row, line);
        return validation with { Errors = [.. validation.Errors.Where(e => !(e.Field == "entity_id" && e.Code == "required"))] };
    }

    private static object? Typed(JsonElement value, FeatureDefinition feature) => (feature.Type, value.ValueKind) switch
    {
        (_, JsonValueKind.Null or JsonValueKind.Undefined) => null,
        (FeatureType.Numeric, JsonValueKind.Number) => value.GetDouble(),
        (FeatureType.Boolean, JsonValueKind.True) => true,
        (FeatureType.Boolean, JsonValueKind.False) => false,
        (FeatureType.Categorical, JsonValueKind.String) => value.GetString(),
        (FeatureType.Categorical, _) => value.GetRawText(),
        _ => throw new BatchScoringException($"a stored value {value.GetRawText()} of '{feature.Name}' does not match its {feature.Type.ToString().ToLowerInvariant()} type"),
    };
}

/// <summary>A problem with the job itself (its input or its artifact): the job fails with this reason and is not retried.</summary>
public sealed class BatchScoringException(string message) : Exception(message);
