using System.Data;
using System.Text.Json;
using Flywheel.Core.Rollouts;
using Flywheel.Core.Serving;
using Npgsql;

namespace Flywheel.Orchestrator.Rollouts;

/// <summary>
/// What production and the canary did since the canary first answered (both arms over the same
/// period), read from the data plane's logs:
/// served rows and each request's latency from <c>inference.predictions</c> (shadow copies excluded),
/// failed rows from <c>inference.prediction_errors</c> (written by the workers when a version fails to score), and — once labels come back —
/// accuracy or absolute errors, and a binary model's scores for the AUC, from the feedback view
/// <c>inference.labelled_predictions</c>.
/// </summary>
public sealed class CanaryEvidence(NpgsqlDataSource database)
{
    public async Task<(ArmEvidence Production, ArmEvidence Canary)> ReadAsync(
        string model, int production, int canary, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // One snapshot for every read: traffic goes on while the analysis reads, and counts, latencies
        // and errors read a moment apart would disagree (a request's latency sampled, its rows not
        // yet counted), as would production's and the canary's stretch.
        await using var snapshot = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var task = await TaskAsync(connection, model, cancellationToken);
        var regression = task == "regression";
        var labelsAvailable = await ExistsAsync(connection, "inference.labelled_predictions", cancellationToken);
        var errorsAvailable = await ExistsAsync(connection, "inference.prediction_errors", cancellationToken);
        // Both arms over the same period: until a worker has loaded the canary, production answers
        // the canary's share too, so counting production from the deployment would compare it over
        // a longer stretch (and other load) than the canary.
        since = await FirstServedAsync(connection, model, canary, since, errorsAvailable, cancellationToken) ?? since;
        var evidence = (
            await ArmAsync(connection, model, production, since, task, labelsAvailable, errorsAvailable, cancellationToken),
            await ArmAsync(connection, model, canary, since, task, labelsAvailable, errorsAvailable, cancellationToken));
        await snapshot.CommitAsync(cancellationToken);
        return evidence;
    }

    private static async Task<ArmEvidence> ArmAsync(
        NpgsqlConnection connection, string model, int version, DateTimeOffset since, string? task, bool labelsAvailable, bool errorsAvailable,
        CancellationToken cancellationToken)
    {
        var regression = task == "regression";
        long served;
        await using (var count = Command(connection, "SELECT count(*) FROM inference.predictions WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3", model, version, since))
        {
            served = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }

        var latencies = new List<double>();
        // One latency per request, not per row: the rows of a request share its answer time, caller
        // and latency, and counting a 20-row request 20 times would make Mann-Whitney see twenty
        // independent observations where there is one, and judge a single slow call significant.
        await using (var sample = Command(connection, $"""
            SELECT latency_us FROM (
                SELECT DISTINCT ON (at, caller, latency_us) latency_us
                FROM inference.predictions WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3) requests
            ORDER BY random() LIMIT {CanaryAnalysis.LatencySample}
            """, model, version, since))
        await using (var reader = await sample.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                latencies.Add(reader.GetInt32(0) / 1000.0);
            }
        }

        long errors = 0;
        if (errorsAvailable)
        {
            await using var failed = Command(connection, "SELECT coalesce(sum(rows), 0)::bigint FROM inference.prediction_errors WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3", model, version, since);
            errors = (long)(await failed.ExecuteScalarAsync(cancellationToken))!;
        }

        long labelled = 0, correct = 0;
        List<double>? absoluteErrors = regression ? [] : null;
        if (labelsAvailable && regression)
        {
            await using var rows = Command(connection, """
                SELECT error FROM (
                    SELECT CASE WHEN jsonb_typeof(label) = 'number' AND jsonb_typeof(outputs->'value') = 'number'
                                THEN abs((label #>> '{}')::double precision - (outputs->>'value')::double precision) END AS error
                    FROM inference.labelled_predictions
                    WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3) labelled
                WHERE error IS NOT NULL
                """, model, version, since);
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                absoluteErrors!.Add(reader.GetDouble(0));
            }

            labelled = absoluteErrors!.Count;
        }
        else if (labelsAvailable)
        {
            // A boolean target may come back as true/false or 1/0; a class as its name.
            await using var rows = Command(connection, """
                SELECT count(*),
                       count(*) FILTER (WHERE CASE
                           WHEN lower(outputs->>'label') = lower(label #>> '{}') THEN true
                           WHEN jsonb_typeof(outputs->'label') = 'boolean' AND (label #>> '{}') IN ('0', '1')
                               THEN (outputs->>'label')::boolean = ((label #>> '{}') = '1')
                           ELSE false END)
                FROM inference.labelled_predictions
                WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3 AND outputs ? 'label'
                """, model, version, since);
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            (labelled, correct) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        List<ScoredLabel>? scored = null;
        if (labelsAvailable && task == "binary")
        {
            // The scores and labels for the AUC, read as the drift monitor reads them; a uniform
            // sample bounds a long bake's analysis like the latencies'.
            scored = [];
            await using var rows = Command(connection, $"""
                SELECT outputs::text, label::text FROM inference.labelled_predictions
                WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3 AND outputs ? 'score'
                ORDER BY random() LIMIT {CanaryAnalysis.ScoredSample}
                """, model, version, since);
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                using var outputs = JsonDocument.Parse(reader.GetString(0));
                using var label = JsonDocument.Parse(reader.GetString(1));
                if (BinaryOutcome.Score(outputs.RootElement) is { } score && BinaryOutcome.Positive(label.RootElement, outputs.RootElement, score) is { } positive)
                {
                    scored.Add(new ScoredLabel(positive, score));
                }
            }
        }

        // The prediction log holds answered requests only; failed ones are requests too.
        return new ArmEvidence(served + errors, errors, latencies, labelled, correct, absoluteErrors, scored);
    }

    private static async Task<DateTimeOffset?> FirstServedAsync(
        NpgsqlConnection connection, string model, int version, DateTimeOffset since, bool errorsAvailable, CancellationToken cancellationToken)
    {
        // A canary that fails every request has only errors to show for its traffic.
        const string served = "SELECT min(at) AS at FROM inference.predictions WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3";
        const string failed = "SELECT min(at) FROM inference.prediction_errors WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3";
        await using var command = Command(connection, errorsAvailable ? $"SELECT min(at) FROM ({served} UNION ALL {failed}) first" : served, model, version, since);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime first ? new DateTimeOffset(first, TimeSpan.Zero) : null;
    }

    private static async Task<string?> TaskAsync(NpgsqlConnection connection, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT task FROM registry.models WHERE name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>The feedback view arrives with its own migration; until it is there, canaries are judged without labels.</summary>
    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, string relation, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = relation });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, string model, int version, DateTimeOffset since)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        command.Parameters.Add(new NpgsqlParameter { Value = since });
        return command;
    }
}
