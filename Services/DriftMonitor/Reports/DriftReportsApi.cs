using System.Globalization;
using System.Text.Json;
using Flywheel.DriftMonitor.Monitoring;
using Flywheel.DriftMonitor.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.DriftMonitor.Reports;

/// <summary>An on-demand evaluation's window; both optional (the policy's current window when neither is given).</summary>
public sealed record EvaluateRequest(DateTimeOffset? From = null, DateTimeOffset? To = null);

/// <summary>
/// Drift reports (API.md, "Monitoring"): the stored reports of a model, newest first, and an
/// evaluation on demand that is stored like a scheduled one but opens no episode and sends no
/// event — an operator's question about a window, not the monitor's alarm.
/// </summary>
public static class DriftReportsApi
{
    public const int DefaultPage = 50;
    public const int MaxPage = 500;

    public static void MapDriftReportsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/models/{model}/drift").WithTags("Monitoring");
        api.MapGet("", ListAsync).WithName("ListDriftReports")
            .WithSummary("The model's drift and performance reports, newest first, filtered by version and creation time.");
        api.MapGet("/{reportId}", GetAsync).WithName("GetDriftReport")
            .WithSummary("One report.");
        api.MapPost("/evaluate", EvaluateAsync).RequireAuthorization(Policies.Operate).WithName("EvaluateDrift")
            .WithSummary("Evaluate the production version now over the current window (or the one given), store the report and return it.");
    }

    public static async Task<Results<Ok<ReportList>, ValidationProblem, ProblemHttpResult>> ListAsync(
        string model, NpgsqlDataSource database, CancellationToken cancellationToken,
        string? version = null, string? from = null, string? to = null, string? limit = null)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        int? versionFilter = null;
        if (version is not null)
        {
            if (int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 1)
            {
                versionFilter = v;
            }
            else
            {
                errors["version"] = [$"must be a version number (1 or more); '{version}' is not."];
            }
        }

        var fromFilter = Time(errors, "from", from);
        var toFilter = Time(errors, "to", to);
        if (fromFilter > toFilter)
        {
            errors["to"] = ["must not be before 'from'."];
        }

        var page = DefaultPage;
        if (limit is not null && !(int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out page) && page is >= 1 and <= MaxPage))
        {
            errors["limit"] = [$"must be between 1 and {MaxPage}; '{limit}' is not."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The report filters are not valid.");
        }

        if (await MonitoredModels.FindSchemaAsync(database, model, cancellationToken) is null)
        {
            return MonitoringPolicyApi.ModelNotFound(model);
        }

        await using var command = database.CreateCommand($"""
            SELECT report::text FROM monitoring.reports
            WHERE model = $1 AND ($2::integer IS NULL OR version = $2) AND ($3::timestamptz IS NULL OR created_at >= $3)
              AND ($4::timestamptz IS NULL OR created_at <= $4)
            ORDER BY created_at DESC, report_id DESC
            LIMIT {page}
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)versionFilter ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)fromFilter ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)toFilter ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        var reports = new List<JsonElement>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            reports.Add(JsonElement.Parse(reader.GetString(0)));
        }

        return TypedResults.Ok(new ReportList(model, reports));
    }

    public static async Task<Results<Ok<JsonElement>, ValidationProblem, ProblemHttpResult>> GetAsync(
        string model, string reportId, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(reportId, out var id))
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["report_id"] = [$"must be a report id (a UUID); '{reportId}' is not."] },
                title: "The report id is not valid.");
        }

        await using var command = database.CreateCommand("SELECT report::text FROM monitoring.reports WHERE model = $1 AND report_id = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return await command.ExecuteScalarAsync(cancellationToken) is string report
            ? TypedResults.Ok(JsonElement.Parse(report))
            : TypedResults.Problem(title: "Report not found", detail: $"Model '{model}' has no report {id}.", statusCode: StatusCodes.Status404NotFound);
    }

    public static async Task<Results<Ok<MonitoringReport>, ValidationProblem, ProblemHttpResult>> EvaluateAsync(
        string model, EvaluateRequest? request, NpgsqlDataSource database, WindowEvaluator evaluator, TimeProvider clock,
        IOptions<JsonOptions> json, IOptions<MonitoringOptions> monitoring, CancellationToken cancellationToken)
    {
        request ??= new EvaluateRequest();
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (request.From is { } from && request.To is { } to && from > to)
        {
            errors["to"] = ["must not be before 'from'."];
        }

        else if (request.From > clock.GetUtcNow())
        {
            errors["from"] = ["must not be in the future: there are no predictions there yet."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The evaluation window is not valid.");
        }

        var schema = await MonitoredModels.FindSchemaAsync(database, model, cancellationToken);
        if (schema is null)
        {
            return MonitoringPolicyApi.ModelNotFound(model);
        }

        if (await MonitoredModels.ProductionVersionAsync(database, model, cancellationToken) is not { } version)
        {
            return TypedResults.Problem(
                title: "Model not deployed", detail: $"Model '{model}' serves no version, so there is no traffic to evaluate.", statusCode: StatusCodes.Status409Conflict);
        }

        var (policy, _, _) = await MonitoredModels.PolicyAsync(database, model, monitoring.Value.DefaultPolicy, json.Value.SerializerOptions, cancellationToken);
        var outcome = await evaluator.EvaluateAsync(schema, version, policy, request.From, request.To, ReportTriggers.Manual, cancellationToken);
        return TypedResults.Ok(outcome.Report!);
    }

    private static DateTimeOffset? Time(Dictionary<string, string[]> errors, string field, string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            return parsed;
        }

        errors[field] = [$"must be an ISO 8601 time such as 2026-01-31T12:00:00Z; '{value}' is not."];
        return null;
    }
}
