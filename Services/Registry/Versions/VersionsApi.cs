using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Registry.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Versions;

/// <summary>
/// Model versions (API.md, "Training and versions"): immutable, numbered per model, each with its
/// metrics, artifact, parity result, reference profile and lineage. Artifacts are private; they
/// are read through <c>.../versions/{version}/artifact</c>, which serves them with their SHA-256.
/// </summary>
public static class VersionsApi
{
    public static void MapVersionsApi(this IEndpointRouteBuilder app)
    {
        var versions = app.MapGroup("/api/models/{model}/versions").WithTags("Versions");
        versions.MapGet("/", ListAsync).WithName("ListVersions").WithSummary("The model's versions, newest first (without reference profiles).");
        versions.MapGet("/{version}", GetAsync).WithName("GetVersion").WithSummary("One version with metrics, artifact, parity, lineage and reference profile.");
        versions.MapGet("/{version}/artifact", DownloadAsync).WithName("DownloadArtifact").WithSummary("The version's ONNX model; X-Content-SHA256 carries its hash.");
    }

    public static async Task<Results<Ok<VersionList>, ProblemHttpResult>> ListAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        return TypedResults.Ok(new VersionList(await ReadAsync(database, model, null, withProfile: false, cancellationToken)));
    }

    public static async Task<Results<Ok<ModelVersion>, ProblemHttpResult>> GetAsync(
        string model, int version, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        var found = await ReadAsync(database, model, version, withProfile: true, cancellationToken);
        return found.Count == 1 ? TypedResults.Ok(found[0]) : VersionNotFound(model, version);
    }

    public static async Task<IResult> DownloadAsync(
        string model, int version, NpgsqlDataSource database, BlobServiceClient blobs, HttpContext http, CancellationToken cancellationToken)
    {
        var found = await ReadAsync(database, model, version, withProfile: false, cancellationToken);
        if (found.Count == 0)
        {
            return VersionNotFound(model, version);
        }

        var artifact = found[0].Artifact;
        var blob = ArtifactStore.Resolve(blobs, artifact.Uri)
            ?? throw new InvalidOperationException($"Version {version} of {model} names an artifact outside the models container.");
        var stream = await blob.OpenReadAsync(cancellationToken: cancellationToken);
        http.Response.Headers["X-Content-SHA256"] = artifact.Sha256;
        return TypedResults.Stream(stream, "application/octet-stream", $"{model}-v{version}.onnx", entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{artifact.Sha256}\""));
    }

    public static ProblemHttpResult VersionNotFound(string model, int version) =>
        TypedResults.Problem(title: "Version not found", detail: $"Model '{model}' has no version {version}.", statusCode: StatusCodes.Status404NotFound);

    private static async Task<List<ModelVersion>> ReadAsync(NpgsqlDataSource database, string model, int? version, bool withProfile, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand($"""
            SELECT version, run_id, metrics::text, artifact_uri, artifact_sha256, artifact_bytes, parity_max_abs_diff, parity_rows,
                   snapshot_id, snapshot_sha256, rows, trainer, hyperparameters::text, seed, code_version, parent_version, trigger,
                   split::text, created_at, {(withProfile ? "reference_profile::text" : "NULL")}, parity_max_rel_diff
            FROM registry.model_versions
            WHERE model = $1 AND ($2::integer IS NULL OR version = $2)
            ORDER BY version DESC
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)version ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        var versions = new List<ModelVersion>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(new ModelVersion(
                model,
                reader.GetInt32(0),
                JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(2))!,
                new VersionArtifact(reader.GetString(3), reader.GetString(4), reader.GetInt64(5)),
                new VersionParity(reader.GetDouble(6), reader.GetDouble(20), reader.GetInt32(7)),
                new VersionLineage(
                    reader.GetGuid(1),
                    reader.GetGuid(8),
                    reader.GetString(9),
                    reader.GetInt64(10),
                    reader.GetString(11),
                    JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(12))!,
                    reader.GetInt32(13),
                    reader.GetString(14),
                    reader.IsDBNull(15) ? null : reader.GetInt32(15),
                    reader.GetString(16),
                    JsonSerializer.Deserialize<JsonElement>(reader.GetString(17))),
                reader.GetFieldValue<DateTimeOffset>(18),
                reader.IsDBNull(19) ? null : JsonSerializer.Deserialize<JsonElement>(reader.GetString(19))));
        }

        return versions;
    }
}

public sealed record VersionArtifact(string Uri, string Sha256, long Bytes);

public sealed record VersionParity(double MaxAbsDiff, double MaxRelDiff, int Rows);

public sealed record VersionLineage(
    Guid RunId,
    Guid SnapshotId,
    string SnapshotSha256,
    long Rows,
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    int Seed,
    string CodeVersion,
    int? ParentVersion,
    string Trigger,
    JsonElement Split);

public sealed record ModelVersion(
    string Model,
    int Version,
    IReadOnlyDictionary<string, double> Metrics,
    VersionArtifact Artifact,
    VersionParity Parity,
    VersionLineage Lineage,
    DateTimeOffset CreatedAt,
    JsonElement? ReferenceProfile);

public sealed record VersionList(IReadOnlyList<ModelVersion> Versions);
