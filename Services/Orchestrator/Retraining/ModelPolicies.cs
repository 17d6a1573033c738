using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Retraining;
using Npgsql;

namespace Flywheel.Orchestrator.Retraining;

/// <summary>
/// A model's policy as the registry stores it (<c>registry.models.policy</c>, snake_case JSON;
/// absent parts take their defaults). The orchestrator reads it and never writes it.
/// </summary>
public sealed record StoredPolicy(bool RequireApproval = false, RolloutPolicy? Rollout = null, RetrainingPolicy? Retraining = null)
{
    public static JsonSerializerOptions SerializerOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public RolloutPolicy RolloutOrDefault => Rollout ?? RolloutPolicy.Default;

    public RetrainingPolicy RetrainingOrDefault => Retraining ?? RetrainingPolicy.Default;

    /// <summary>The model's policy, or null when there is no such model.</summary>
    public static async Task<StoredPolicy?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT policy::text FROM registry.models WHERE name = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) is string json
            ? JsonSerializer.Deserialize<StoredPolicy>(json, SerializerOptions) ?? new StoredPolicy()
            : null;
    }
}
