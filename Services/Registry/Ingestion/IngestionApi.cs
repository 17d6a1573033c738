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
    public const int MaxEvents = 10_000;

    public static RouteGroupBuilder MapIngestionApi(this IEndpointRouteBuilder app)
    {
        var data = app.MapGroup("/api/models/{model}").WithTags("Data");
        data.MapPost("/data", UploadAsync)
            .RequireAuthorization(Policies.Operate)
            .Accepts<string>("text/csv", "application/x-ndjson")
            .WithName("UploadData")
            .WithSummary("Upload rows (CSV with a header, or NDJSON); every rejected row is reported with its line and field.");
        data.MapPost("/events", PostEventsAsync)
            .RequireAuthorization(Policies.Operate)
            .WithName("PostEvents")
            .WithSummary("Send one event or a small batch; validated and stored like uploaded rows.");
        // Stored and quarantined rows are business data (PII included, as sent): reading them needs a
        // viewer, operator or admin key, as the prediction log does. The list holds only counts.
        data.MapGet("/features/{entity}", GetOnlineFeaturesAsync)
            .RequireAuthorization(Policies.Read)
            .WithName("GetOnlineFeatures")
            .WithSummary("An entity's latest feature values from the online store (a viewer, operator or admin key).");
        data.MapGet("/ingestions", ListAsync).WithName("ListIngestions").WithSummary("The model's ingestions, newest first, with their counts.");
        data.MapGet("/ingestions/{id}", GetAsync)
            .RequireAuthorization(Policies.Read)
            .WithName("GetIngestion")
            .WithSummary("An ingestion's validation report and quarantined rows (a viewer, operator or admin key).");
        return data;
    }

    public static async Task<IResult> UploadAsync(
        string model, HttpContext http, ClaimsPrincipal user, NpgsqlDataSource database, OnlineStore onlineStore,
        IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken)
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
        var run = await StartAsync(schema, format, user, database, json, onlineStore, cancellationToken);
        try
        {
            using var text = RowSources.Open(http.Request.Body);
            var rows = format == "csv"
                ? RowSources.Csv(text, header => CheckHeader(schema, header), cancellationToken)
                : RowSources.Ndjson(text, schema, cancellationToken);
            foreach (var row in rows)
            {
                await run.AddAsync(row);
            }

            await run.FinishAsync(error: null);
            return TypedResults.Ok(Summary(run));
        }
        catch (Exception ex) when (ex is MalformedDataException or DecoderFallbackException or BadHttpRequestException)
        {
            // Everything read before the fault is kept: rows up to it are committed, the ingestion is marked failed.
            var (line, reason, status) = ex switch
            {
                MalformedDataException malformed => (malformed.Line, malformed.Reason, StatusCodes.Status400BadRequest),
                // The decoder reads ahead of the rows, so the bad bytes are at this line or a little after it.
                DecoderFallbackException => (run.LastLine + 1, "the body is not valid UTF-8 (at this line or within the next 64 KiB).", StatusCodes.Status400BadRequest),
                BadHttpRequestException bad => (run.LastLine + 1, bad.Message, bad.StatusCode),
                _ => throw new InvalidOperationException("unreachable", ex),
            };
            await run.FinishAsync($"line {line}: {reason}");
            return TypedResults.Problem(
                title: "The data is malformed",
                detail: $"Line {line}: {reason} Rows before it were kept (ingestion {run.Id}).",
                statusCode: status,
                extensions: new Dictionary<string, object?>
                {
                    ["ingestion_id"] = run.Id,
                    ["line"] = line,
                    ["errors"] = new Dictionary<string, string[]> { ["body"] = [$"line {line}: {reason}"] },
                    ["accepted"] = run.Report.Accepted,
                    ["rejected"] = run.Report.Rejected,
                    ["duplicates"] = run.Report.Duplicates,
                });
        }
    }

    /// <summary>
    /// <c>POST /api/models/{model}/events</c>: one event (a JSON object) or a small batch (an array of
    /// up to <see cref="MaxEvents"/>), validated and stored like uploaded rows; "line" is the
    /// event's position in the batch.
    /// </summary>
    public static async Task<IResult> PostEventsAsync(
        string model, JsonElement body, ClaimsPrincipal user, NpgsqlDataSource database, OnlineStore onlineStore,
        IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken)
    {
        var json = jsonOptions.Value.SerializerOptions;
        IReadOnlyList<JsonElement> events = body.ValueKind switch
        {
            JsonValueKind.Object => [body],
            JsonValueKind.Array => [.. body.EnumerateArray()],
            _ => [],
        };
        if (events.Count == 0 || events.Count > MaxEvents)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["body"] = [$"Send one event object or an array of 1 to {MaxEvents} of them."] },
                title: "The events could not be read.");
        }

        if (await ModelsApi.FindAsync(model, database, json, cancellationToken) is not { } found)
        {
            return ModelsApi.ModelNotFound(model);
        }

        var schema = found.ToSchema();
        var run = await StartAsync(schema, "events", user, database, json, onlineStore, cancellationToken);
        for (var i = 0; i < events.Count; i++)
        {
            await run.AddAsync(RowSources.FromJson(i + 1, events[i], schema));
        }

        await run.FinishAsync(error: null);
        return TypedResults.Ok(Summary(run));
    }

    /// <summary><c>GET /api/models/{model}/features/{entity}</c>: the entity's latest values in the online store.</summary>
    public static async Task<IResult> GetOnlineFeaturesAsync(string model, string entity, OnlineStore onlineStore) =>
        await onlineStore.GetAsync(model, entity) is { } features
            ? TypedResults.Ok(features)
            : TypedResults.Problem(title: "No features", detail: $"The online store has no values for entity '{entity}' of model '{model}'.", statusCode: StatusCodes.Status404NotFound);

    private static async Task<IngestionRun> StartAsync(
        ModelSchema schema, string format, ClaimsPrincipal user, NpgsqlDataSource database, JsonSerializerOptions json, OnlineStore onlineStore,
        CancellationToken cancellationToken)
    {
        var writer = new IngestionWriter(database, json);
        var id = await writer.StartAsync(schema.Name, format, user.Identity?.Name ?? "unknown", cancellationToken);
        return new IngestionRun(schema, id, writer, onlineStore, BatchSize);
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

    private static IngestionSummary Summary(IngestionRun run) => new(
        run.Id,
        run.Report.Accepted,
        run.Report.Rejected,
        run.Report.Duplicates,
        [.. run.Report.Errors.Select(e => new RowError(e.Line ?? 0, e.Field, e.Message))],
        run.Report.ErrorsNotListed,
        run.Report.MissingRates,
        run.Report.Problems);

    public static async Task<IResult> ListAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken, int limit = 50)
    {
        if (await ModelsApi.FindAsync(model, database, jsonOptions.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        await using var command = database.CreateCommand("""
            SELECT id, format, state, accepted, rejected, duplicates, error, started_at, finished_at, created_by
            FROM registry.ingestions WHERE model = $1 ORDER BY started_at DESC LIMIT $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = Math.Clamp(limit, 1, 500) });
        var ingestions = new List<IngestionListItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ingestions.Add(new IngestionListItem(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                reader.GetString(9)));
        }

        return TypedResults.Ok(new IngestionList(ingestions));
    }

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

public sealed record IngestionListItem(
    Guid IngestionId, string Format, string State, long Accepted, long Rejected, long Duplicates, string? Error,
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string CreatedBy);

public sealed record IngestionList(IReadOnlyList<IngestionListItem> Ingestions);

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
