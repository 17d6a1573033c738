using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Ingestion;

/// <summary>
/// <c>POST /api/models/{model}/data</c>: a CSV (with header) or NDJSON body of up to 1 GB, streamed,
/// validated row by row against the model's schema and written in committed batches;
/// <c>GET /api/models/{model}/ingestions/{id}</c>: the validation report and the quarantine.
/// </summary>
public static class IngestionApi
{
    public const long MaxBodyBytes = 1L << 30;
    public const int BatchSize = 5_000;

    public static RouteGroupBuilder MapIngestionApi(this IEndpointRouteBuilder app)
    {
        var data = app.MapGroup("/api/models/{model}").WithTags("Data");
        data.MapPost("/data", UploadAsync)
            .RequireAuthorization(Policies.Operate)
            .Accepts<string>("text/csv", "application/x-ndjson")
            .WithName("UploadData")
            .WithSummary("Upload rows (CSV with a header, or NDJSON); every rejected row is reported with its line and field.");
        data.MapGet("/ingestions/{id:guid}", GetAsync).WithName("GetIngestion").WithSummary("An ingestion's validation report and quarantined rows.");
        return data;
    }

    public static async Task<IResult> UploadAsync(
        string model, HttpContext http, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken)
    {
        var json = jsonOptions.Value.SerializerOptions;
        var format = http.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant() switch
        {
            "text/csv" => "csv",
            "application/x-ndjson" or "application/jsonl" => "ndjson",
            _ => null,
        };
        if (format is null)
        {
            return TypedResults.Problem(
                title: "Unsupported content type",
                detail: "Send text/csv (with a header row) or application/x-ndjson (one JSON object per line).",
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        if (await ModelsApi.FindAsync(model, database, json, cancellationToken) is not { } found)
        {
            return ModelsApi.ModelNotFound(model);
        }

        // Large uploads stream through this endpoint only; the parser reads synchronously.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        http.Features.Get<IHttpBodyControlFeature>()!.AllowSynchronousIO = true;

        var schema = found.ToSchema();
        var writer = new IngestionWriter(database, json);
        var report = new IngestionReport([.. schema.Features.Select(f => f.Name)]);
        var id = await writer.StartAsync(model, format, user.Identity?.Name ?? "unknown", cancellationToken);
        var accepted = new List<RowValidation>(BatchSize);
        var rejected = new List<QuarantinedRow>();
        var lastLine = 0L;

        async Task FlushAsync()
        {
            if (accepted.Count + rejected.Count == 0)
            {
                return;
            }

            report.CountDuplicates(await writer.CommitBatchAsync(id, model, accepted, rejected, CancellationToken.None));
            accepted.Clear();
            rejected.Clear();
        }

        try
        {
            using var text = RowSources.Open(http.Request.Body);
            var rows = format == "csv"
                ? RowSources.Csv(text, header => CheckHeader(schema, header), cancellationToken)
                : RowSources.Ndjson(text, cancellationToken);
            foreach (var row in rows)
            {
                lastLine = row.Line;
                var validation = row.Problem is null
                    ? RowValidator.Validate(schema, row.Values, row.Line)
                    : new RowValidation([new FieldError("line", row.Problem, row.Line, "format")], new Dictionary<string, object?>(), null, null, null, null);
                report.Add(validation);
                if (validation.IsValid)
                {
                    accepted.Add(validation);
                }
                else
                {
                    rejected.Add(new QuarantinedRow(row.Line, row.Values, validation.Errors));
                }

                if (accepted.Count + rejected.Count >= BatchSize)
                {
                    await FlushAsync();
                }
            }

            await FlushAsync();
            await writer.FinishAsync(id, report, error: null, CancellationToken.None);
            return TypedResults.Ok(Summary(id, report));
        }
        catch (Exception ex) when (ex is MalformedDataException or DecoderFallbackException or BadHttpRequestException)
        {
            // Everything read before the fault is kept: rows up to it are committed, the ingestion is marked failed.
            var (line, reason, status) = ex switch
            {
                MalformedDataException malformed => (malformed.Line, malformed.Reason, StatusCodes.Status400BadRequest),
                DecoderFallbackException => (lastLine + 1, "the body is not valid UTF-8.", StatusCodes.Status400BadRequest),
                BadHttpRequestException bad => (lastLine + 1, bad.Message, bad.StatusCode),
                _ => throw new InvalidOperationException("unreachable", ex),
            };
            await FlushAsync();
            await writer.FinishAsync(id, report, $"line {line}: {reason}", CancellationToken.None);
            return TypedResults.Problem(
                title: "The data is malformed",
                detail: $"Line {line}: {reason} Rows before it were kept (ingestion {id}).",
                statusCode: status,
                extensions: new Dictionary<string, object?>
                {
                    ["ingestion_id"] = id,
                    ["line"] = line,
                    ["accepted"] = report.Accepted,
                    ["rejected"] = report.Rejected,
                    ["duplicates"] = report.Duplicates,
                });
        }
    }

    /// <summary>Every header column must be known, and every required feature present, before any row is read.</summary>
    private static string? CheckHeader(ModelSchema schema, IReadOnlyList<string> header)
    {
        var known = schema.Features.Select(f => f.Name).Append(schema.Target.Name).Concat(ModelSchema.ReservedColumns).ToHashSet(StringComparer.Ordinal);
        if (header.FirstOrDefault(column => !known.Contains(column)) is { } unknown)
        {
            return $"the header has column '{unknown}', which is not a feature, the target or a reserved column of model '{schema.Name}'.";
        }

        return schema.Features.FirstOrDefault(f => !f.Nullable && !header.Contains(f.Name)) is { } missing
            ? $"the header lacks the required feature '{missing.Name}'."
            : null;
    }

    private static IngestionSummary Summary(Guid id, IngestionReport report) => new(
        id,
        report.Accepted,
        report.Rejected,
        report.Duplicates,
        [.. report.Errors.Select(e => new RowError(e.Line ?? 0, e.Field, e.Message))],
        report.ErrorsNotListed,
        report.MissingRates,
        report.Problems);

    public static async Task<IResult> GetAsync(
        string model, Guid id, NpgsqlDataSource database, IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken, int offset = 0, int limit = 100)
    {
        limit = Math.Clamp(limit, 1, 1000);
        offset = Math.Max(0, offset);
        await using var command = database.CreateCommand("""
            SELECT format, state, accepted, rejected, duplicates, report::text, error, started_at, finished_at
            FROM registry.ingestions WHERE id = $1 AND model = $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return TypedResults.Problem(title: "Ingestion not found", detail: $"Model '{model}' has no ingestion {id}.", statusCode: StatusCodes.Status404NotFound);
        }

        var json = jsonOptions.Value.SerializerOptions;
        var ingestion = new IngestionDetail(
            id, model, reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
            reader.IsDBNull(5) ? null : JsonDocument.Parse(reader.GetString(5)).RootElement,
            reader.IsDBNull(6) ? null : reader.GetString(6),
            reader.GetFieldValue<DateTimeOffset>(7),
            reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
            []);
        await reader.DisposeAsync();

        await using var quarantine = database.CreateCommand(
            "SELECT line, row_values::text, errors::text FROM registry.quarantine WHERE ingestion_id = $1 ORDER BY line OFFSET $2 LIMIT $3");
        quarantine.Parameters.Add(new NpgsqlParameter { Value = id });
        quarantine.Parameters.Add(new NpgsqlParameter { Value = (long)offset });
        quarantine.Parameters.Add(new NpgsqlParameter { Value = (long)limit });
        var rows = new List<QuarantineEntry>();
        await using var rowsReader = await quarantine.ExecuteReaderAsync(cancellationToken);
        while (await rowsReader.ReadAsync(cancellationToken))
        {
            rows.Add(new QuarantineEntry(
                rowsReader.GetInt64(0),
                JsonSerializer.Deserialize<Dictionary<string, string?>>(rowsReader.GetString(1), json)!,
                JsonDocument.Parse(rowsReader.GetString(2)).RootElement));
        }

        return TypedResults.Ok(ingestion with { Quarantine = rows });
    }
}

public sealed record RowError(long Line, string Field, string Message);

public sealed record IngestionSummary(
    Guid IngestionId,
    long Accepted,
    long Rejected,
    long Duplicates,
    IReadOnlyList<RowError> Errors,
    long ErrorsNotListed,
    IReadOnlyDictionary<string, double> MissingRates,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Problems);

public sealed record QuarantineEntry(long Line, IReadOnlyDictionary<string, string?> Values, JsonElement Errors);

public sealed record IngestionDetail(
    Guid IngestionId,
    string Model,
    string Format,
    string State,
    long Accepted,
    long Rejected,
    long Duplicates,
    JsonElement? Report,
    string? Error,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<QuarantineEntry> Quarantine);
