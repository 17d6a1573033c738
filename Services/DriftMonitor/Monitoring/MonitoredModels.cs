using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;
using Npgsql;

namespace Flywheel.DriftMonitor.Monitoring;

/// <summary>A serving version as the monitor compares with it: its reference profile and its held-out metrics.</summary>
public sealed record MonitoredVersion(int Version, ReferenceProfile Profile, IReadOnlyDictionary<string, double> TrainingMetrics);

/// <summary>Reads what the registry owns (models, versions, deployments) and the monitor's own policies.</summary>
public static class MonitoredModels
{
    /// <summary>How the registry and the trainer store schemas, profiles and metrics: snake_case, enums as snake_case strings.</summary>
    public static JsonSerializerOptions StoredJson { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task<ModelSchema?> FindSchemaAsync(NpgsqlDataSource database, string model, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT task, entity_key, features::text, target::text FROM registry.models WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ModelSchema(
            model,
            JsonSerializer.Deserialize<ModelTask>($"\"{reader.GetString(0)}\"", StoredJson),
            JsonSerializer.Deserialize<List<FeatureDefinition>>(reader.GetString(2), StoredJson)!,
            JsonSerializer.Deserialize<TargetDefinition>(reader.GetString(3), StoredJson)!,
            reader.IsDBNull(1) ? null : reader.GetString(1));
    }

    /// <summary>The version serving the model's production traffic; null when it is not deployed.</summary>
    public static async Task<int?> ProductionVersionAsync(NpgsqlDataSource database, string model, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT production FROM registry.deployments WHERE model = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) is int version ? version : null;
    }

    public static async Task<MonitoredVersion?> FindVersionAsync(NpgsqlDataSource database, string model, int version, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT reference_profile::text, metrics::text FROM registry.model_versions WHERE model = $1 AND version = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var profile = JsonSerializer.Deserialize<ReferenceProfile>(reader.GetString(0), StoredJson)!;
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        using (var document = JsonDocument.Parse(reader.GetString(1)))
        {
            // Metrics are numbers, but a metric that could not be computed may be stored as a named
            // literal ("NaN"); it is no baseline, so it is left out.
            foreach (var metric in document.RootElement.EnumerateObject())
            {
                if (metric.Value.ValueKind == JsonValueKind.Number && double.IsFinite(metric.Value.GetDouble()))
                {
                    metrics[metric.Name] = metric.Value.GetDouble();
                }
            }
        }

        return new MonitoredVersion(version, profile, metrics);
    }

    /// <summary>The model's stored policy, or <paramref name="defaults"/>; every part filled in.</summary>
    public static async Task<(MonitoringPolicy Policy, DateTimeOffset? UpdatedAt, string? UpdatedBy)> PolicyAsync(
        NpgsqlDataSource database, string model, MonitoringPolicy defaults, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT policy::text, updated_at, updated_by FROM monitoring.policies WHERE model = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return (defaults, null, null);
        }

        var policy = JsonSerializer.Deserialize<MonitoringPolicy>(reader.GetString(0), json) ?? MonitoringPolicy.Default;
        return (policy.Normalised(), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2));
    }

    /// <summary>Every stored policy, by model, for the schedule.</summary>
    public static async Task<Dictionary<string, MonitoringPolicy>> PoliciesAsync(
        NpgsqlDataSource database, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        var policies = new Dictionary<string, MonitoringPolicy>(StringComparer.Ordinal);
        await using var command = database.CreateCommand("SELECT model, policy::text FROM monitoring.policies");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            policies[reader.GetString(0)] = (JsonSerializer.Deserialize<MonitoringPolicy>(reader.GetString(1), json) ?? MonitoringPolicy.Default).Normalised();
        }

        return policies;
    }
}
