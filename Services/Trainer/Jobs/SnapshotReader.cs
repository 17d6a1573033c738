using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Training;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Trainer.Jobs;

/// <summary>Reads a model's schema and a snapshot's rows (the registry's, read-only) as training rows, in the snapshot's order.</summary>
public sealed class SnapshotReader(NpgsqlDataSource database, IOptions<JsonOptions> json)
{
    public async Task<ModelSchema> ReadSchemaAsync(string model, CancellationToken cancellationToken)
    {
        var options = json.Value.SerializerOptions;
        await using var command = database.CreateCommand("SELECT task, entity_key, features::text, target::text FROM registry.models WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new TrainingException($"the model '{model}' does not exist");
        }

        return new ModelSchema(
            model,
            JsonSerializer.Deserialize<ModelTask>($"\"{reader.GetString(0)}\"", options),
            JsonSerializer.Deserialize<List<FeatureDefinition>>(reader.GetString(2), options)!,
            JsonSerializer.Deserialize<TargetDefinition>(reader.GetString(3), options)!,
            reader.IsDBNull(1) ? null : reader.GetString(1));
    }

    public async Task<IReadOnlyList<TrainingRow>> ReadRowsAsync(Guid snapshotId, ModelSchema schema, CancellationToken cancellationToken)
    {
        var rows = new List<TrainingRow>();
        await using var command = database.CreateCommand(
            "SELECT event_time, features::text, target::text FROM registry.snapshot_rows WHERE snapshot_id = $1 ORDER BY ordinal");
        command.Parameters.Add(new NpgsqlParameter { Value = snapshotId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var features = JsonDocument.Parse(reader.GetString(1));
            var values = new Dictionary<string, object?>(schema.Features.Count, StringComparer.Ordinal);
            foreach (var feature in schema.Features)
            {
                values[feature.Name] = features.RootElement.TryGetProperty(feature.Name, out var value) ? Typed(value, feature.Type) : null;
            }

            object? target = null;
            if (!reader.IsDBNull(2))
            {
                using var targetJson = JsonDocument.Parse(reader.GetString(2));
                target = Typed(targetJson.RootElement, schema.Target.Type);
            }

            rows.Add(new TrainingRow(reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0), values, target));
        }

        return rows;
    }

    private static object? Typed(JsonElement value, FeatureType type) => (type, value.ValueKind) switch
    {
        (_, JsonValueKind.Null or JsonValueKind.Undefined) => null,
        (FeatureType.Numeric, JsonValueKind.Number) => value.GetDouble(),
        (FeatureType.Boolean, JsonValueKind.True) => true,
        (FeatureType.Boolean, JsonValueKind.False) => false,
        (FeatureType.Categorical, JsonValueKind.String) => value.GetString(),
        (FeatureType.Categorical, _) => value.GetRawText(),
        _ => throw new TrainingException($"a stored value {value.GetRawText()} does not match its {type.ToString().ToLowerInvariant()} type"),
    };
}
