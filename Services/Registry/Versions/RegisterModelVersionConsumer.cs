using System.Security.Cryptography;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Flywheel.Contracts.Training;
using Flywheel.Core.Artifacts;
using Flywheel.Registry.Security;
using MassTransit;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Registry.Versions;

/// <summary>
/// Registers a trained model as its model's next version — once per run: a redelivered request
/// finds the version its run already registered and announces it again. Before registering, the
/// artifact is read back from Blob and its SHA-256 and size checked, and the parity result is
/// checked against its tolerance, so no version exists whose artifact is not what the trainer
/// measured (invariants 3 and 4).
/// </summary>
public sealed partial class RegisterModelVersionConsumer(
    NpgsqlDataSource database, BlobServiceClient blobs, IOptions<JsonOptions> jsonOptions, ILogger<RegisterModelVersionConsumer> logger)
    : IConsumer<RegisterModelVersion>
{
    public async Task Consume(ConsumeContext<RegisterModelVersion> context)
    {
        var message = context.Message;
        var cancellationToken = context.CancellationToken;
        var refusal = !(message.Parity.MaxRelDiff <= message.Parity.Tolerance) || message.Parity.LabelMismatches > 0
            ? $"ONNX parity {message.Parity.MaxRelDiff:G3} (relative) with {message.Parity.LabelMismatches} different labels exceeds the tolerance {message.Parity.Tolerance:G3}"
            : await VerifyArtifactAsync(message.Artifact, cancellationToken);

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One registration at a time per model keeps version numbers dense and ordered.
        await using (var lockModel = new NpgsqlCommand("SELECT 1 FROM registry.models WHERE name = $1 FOR UPDATE", connection, transaction))
        {
            lockModel.Parameters.Add(new NpgsqlParameter { Value = message.Model });
            await lockModel.ExecuteNonQueryAsync(cancellationToken);
        }

        int? version;
        await using (var existing = new NpgsqlCommand("SELECT version FROM registry.model_versions WHERE run_id = $1", connection, transaction))
        {
            existing.Parameters.Add(new NpgsqlParameter { Value = message.RunId });
            version = await existing.ExecuteScalarAsync(cancellationToken) as int?;
        }

        if (version is null && refusal is not null)
        {
            LogRefused(message.RunId, refusal);
            await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, new ModelVersionRegistrationFailed(message.RunId, refusal), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return;
        }

        if (version is null)
        {
            version = await InsertAsync(connection, transaction, message, jsonOptions.Value.SerializerOptions, cancellationToken);
            await Audit.WriteAsync(connection, transaction, $"training-run:{message.RunId}", "version.registered", message.Model,
                new { version, run_id = message.RunId, artifact = message.Artifact, trigger = message.Trigger }, jsonOptions.Value.SerializerOptions, cancellationToken);
            LogRegistered(message.Model, version.Value, message.RunId);
        }

        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, new ModelVersionRegistered(message.RunId, message.Model, version.Value), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<string?> VerifyArtifactAsync(ArtifactReference artifact, CancellationToken cancellationToken)
    {
        var blob = ArtifactStore.Resolve(blobs, artifact.Uri);
        if (blob is null)
        {
            return $"the artifact {artifact.Uri} is not in the models container";
        }

        try
        {
            await using var stream = await blob.OpenReadAsync(cancellationToken: cancellationToken);
            using var sha = SHA256.Create();
            var hash = Convert.ToHexStringLower(await sha.ComputeHashAsync(stream, cancellationToken));
            var length = stream.Length;
            return hash == artifact.Sha256 && length == artifact.Bytes
                ? null
                : $"the artifact's SHA-256 is {hash} ({length} bytes), not the {artifact.Sha256} ({artifact.Bytes} bytes) the trainer reported";
        }
        catch (RequestFailedException exception) when (exception.Status == 404)
        {
            return $"the artifact {artifact.Uri} does not exist";
        }
    }

    private static async Task<int> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, RegisterModelVersion message, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO registry.model_versions (
                model, version, run_id, metrics, artifact_uri, artifact_sha256, artifact_bytes, parity_max_abs_diff, parity_rows,
                reference_profile, snapshot_id, snapshot_sha256, rows, trainer, hyperparameters, seed, code_version, parent_version, trigger, split,
                parity_max_rel_diff)
            SELECT $1, coalesce(max(version), 0) + 1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18, $19::jsonb, $20
            FROM registry.model_versions WHERE model = $1
            RETURNING version
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = message.Model });
        command.Parameters.Add(new NpgsqlParameter { Value = message.RunId });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(message.Metrics, json) });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Artifact.Uri });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Artifact.Sha256 });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Artifact.Bytes });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Parity.MaxAbsDiff });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Parity.Rows });
        command.Parameters.Add(new NpgsqlParameter { Value = message.ReferenceProfileJson });
        command.Parameters.Add(new NpgsqlParameter { Value = message.SnapshotId });
        command.Parameters.Add(new NpgsqlParameter { Value = message.SnapshotSha256 });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Rows });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Trainer });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(message.Hyperparameters, json) });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Seed });
        command.Parameters.Add(new NpgsqlParameter { Value = message.CodeVersion });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)message.ParentVersion ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Trigger });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(message.Split, json) });
        command.Parameters.Add(new NpgsqlParameter { Value = message.Parity.MaxRelDiff });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered {Model} version {Version} from training run {RunId}")]
    private partial void LogRegistered(string model, int version, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused to register training run {RunId}: {Reason}")]
    private partial void LogRefused(Guid runId, string reason);
}

/// <summary>Where versions' artifacts live: the private models container, addressed by content.</summary>
public static class ArtifactStore
{
    /// <summary>
    /// The blob an artifact URI names in the models container, found by its path whatever endpoint
    /// it was recorded under; null when it names anything outside the container.
    /// </summary>
    public static BlobClient? Resolve(BlobServiceClient blobs, string uri)
    {
        var container = blobs.GetBlobContainerClient(BlobContainers.Models);
        return ArtifactLocation.BlobName(container.Uri, uri) is { } name ? container.GetBlobClient(name) : null;
    }
}
