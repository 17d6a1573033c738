using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Flywheel.Registry.Security;

/// <summary>
/// <c>GET /api/audit</c>: the audit log, newest first, a bounded page at a time. Viewers,
/// operators and admins only, unlike the other reads: the log names keys, their powers and who acted.
/// </summary>
public static class AuditApi
{
    public const int DefaultPage = 50;
    public const int MaxPage = 500;

    public static void MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit", ListAsync).RequireAuthorization(Policies.Read).WithTags("Audit").WithName("ListAuditLog")
            .WithSummary("Audit entries, newest first, filtered by model (subject), actor and action; page on with before = the last id seen.");
    }

    public static async Task<Results<Ok<AuditPage>, ValidationProblem>> ListAsync(
        NpgsqlDataSource database, CancellationToken cancellationToken,
        string? model = null, string? actor = null, string? action = null, string? limit = null, string? before = null)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var page = DefaultPage;
        if (limit is not null && !(int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out page) && page is >= 1 and <= MaxPage))
        {
            errors["limit"] = [$"must be between 1 and {MaxPage}; '{limit}' is not."];
        }

        long? beforeId = null;
        if (before is not null)
        {
            if (long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id >= 1)
            {
                beforeId = id;
            }
            else
            {
                errors["before"] = [$"must be an entry id (1 or more) from a previous page; '{before}' is not."];
            }
        }

        foreach (var (field, value) in new[] { ("model", model), ("actor", actor), ("action", action) })
        {
            if (value is { Length: > 200 })
            {
                errors[field] = ["must be at most 200 characters."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The audit filters are not valid.");
        }

        // One more than the page, to know whether there is a next one without counting the log.
        await using var command = database.CreateCommand($"""
            SELECT id, at, actor, action, subject, detail::text FROM registry.audit_log
            WHERE ($1::text IS NULL OR subject = $1) AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action = $3)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT {page + 1}
            """);
        command.Parameters.Add(Text(model));
        command.Parameters.Add(Text(actor));
        command.Parameters.Add(Text(action));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)beforeId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        var entries = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditEntry(
                reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : JsonSerializer.Deserialize<JsonElement>(reader.GetString(5))));
        }

        var more = entries.Count > page;
        if (more)
        {
            entries.RemoveAt(entries.Count - 1);
        }

        return TypedResults.Ok(new AuditPage(entries, more ? entries[^1].Id : null));
    }

    private static NpgsqlParameter Text(string? value) =>
        new() { Value = string.IsNullOrEmpty(value) ? DBNull.Value : value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text };
}

/// <param name="Subject">What the action was on: a model's name for most actions, a key's id for key actions.</param>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string Action, string Subject, JsonElement? Detail);

/// <param name="NextBefore">The <c>before</c> that reads the next (older) page; null on the last page.</param>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? NextBefore);
