using System.Text.Json;
using Npgsql;

namespace Flywheel.Registry.Security;

/// <summary>Appends to <c>registry.audit_log</c> inside the transaction of the change it records.</summary>
public static class Audit
{
    public static async Task WriteAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string actor, string action, string subject, object detail,
        JsonSerializerOptions options, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "INSERT INTO registry.audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4::jsonb)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = actor });
        command.Parameters.Add(new NpgsqlParameter { Value = action });
        command.Parameters.Add(new NpgsqlParameter { Value = subject });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(detail, options) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
