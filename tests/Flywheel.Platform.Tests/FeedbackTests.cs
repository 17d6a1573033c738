using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flywheel.Core.Serving;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Feedback end to end: labels sent through the gateway by prediction id or by entity and time,
/// stored all-or-nothing, joined to the prediction log when read (also when the label came
/// first), and trained on by the next run with the values the model was served. One model
/// (merchant_category marked PII, so the log holds it hashed) is trained and deployed once.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class FeedbackTests(PlatformFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(60);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private HttpClient _admin = null!;
    private HttpClient _predictor = null!;
    private string _model = "";
    private string _keyName = "";

    public async Task InitializeAsync()
    {
        _admin = _flywheel.AdminGateway();
        var definition = TrainingData.FraudModel.Replace(
            "\"categories\": [\"grocery\", \"travel\", \"online\", \"fuel\"] }", "\"categories\": [\"grocery\", \"travel\", \"online\", \"fuel\"], \"pii\": true }",
            StringComparison.Ordinal);
        Assert.Contains("\"pii\": true", definition, StringComparison.Ordinal);
        _model = await _admin.DefineModelAsync("feedback", definition);
        await TrainingData.UploadAsync(_admin, _model, TrainingData.FraudCsv(1_500, seed: 5));
        var run = await TrainingData.WaitForRunAsync(_admin, await TrainingData.StartRunAsync(_admin, _model, new { trainer = "fasttree", seed = 1 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
        using (var deployed = await _admin.PutAsJsonAsync($"/api/models/{_model}/deployment", new { production = 1, reason = "feedback tests" }))
        {
            Assert.Equal(HttpStatusCode.OK, deployed.StatusCode);
        }

        _keyName = "fb-" + _model;
        _predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(_admin, _keyName, ["predictor"], [_model], requestsPerSecond: 100_000));
        await ServingSetup.WaitUntilServingAsync(_predictor, _model, version: 1);
    }

    public Task DisposeAsync()
    {
        _admin.Dispose();
        _predictor.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Feedback_by_prediction_id_single_and_bulk_is_stored_and_joined_to_the_served_prediction()
    {
        var ids = await PredictAsync(null, 101.25, 202.5, 303.75);
        await using var database = await _flywheel.OpenDatabaseAsync();
        await ServingSetup.WaitForLoggedAsync(database, ids, LogTimeout);

        var single = await SendAsync(_predictor, new { prediction_id = ids[0], label = true });
        Assert.Equal((1, 0, 0), Counts(single));
        var bulk = await SendAsync(_predictor, new object[] { new { prediction_id = ids[1], label = false }, new { prediction_id = ids[2], label = "1" } });
        Assert.Equal((2, 0, 0), Counts(bulk));

        var stored = await FeedbackRowsAsync(database, ids);
        Assert.Equal([true, false, true], ids.Select(id => stored[id].Label.GetBoolean()));
        Assert.All(stored.Values, row => Assert.Equal(_keyName, row.Caller));

        var joined = await LabelledAsync(database, ids);
        Assert.Equal(3, joined.Count);
        Assert.All(joined.Values, row => Assert.Equal((1, false), (row.Version, row.Shadow)));
        Assert.Equal([101.25, 202.5, 303.75], ids.Select(id => joined[id].Inputs.GetProperty("amount").GetDouble()));
        Assert.Equal([true, false, true], ids.Select(id => joined[id].Label.GetBoolean()));
        // The log holds PII hashed; the view shows the log as it is.
        Assert.StartsWith(PiiRedaction.HashPrefix, joined[ids[0]].Inputs.GetProperty("merchant_category").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_by_entity_and_time_joins_the_entitys_latest_served_prediction_at_or_before_that_time()
    {
        var entity = "fb-card-" + Guid.NewGuid().ToString("N")[..8];
        var first = (await PredictAsync(entity, 11))[0];
        await Task.Delay(50);
        var second = (await PredictAsync(entity, 22))[0];
        await using var database = await _flywheel.OpenDatabaseAsync();
        var logged = await ServingSetup.WaitForLoggedAsync(database, [first, second], LogTimeout);
        Assert.All(logged.Values, row => Assert.Equal(entity, row.EntityId));
        var (firstAt, secondAt) = (await PredictionTimeAsync(database, first), await PredictionTimeAsync(database, second));
        Assert.True(firstAt < secondAt);
        // A shadow prediction of the same entity after both: its answer never reached the caller, so no label is about it.
        var shadow = Guid.NewGuid();
        await InsertPredictionAsync(database, shadow, secondAt.AddMilliseconds(5), entity, shadow: true, amount: 99);

        var result = await SendAsync(_predictor, new object[]
        {
            new { entity_id = entity, event_time = Iso(firstAt.AddMilliseconds(1)), label = false },
            new { entity_id = entity, event_time = Iso(secondAt.AddSeconds(10)), label = true },
            new { entity_id = entity, event_time = Iso(firstAt.AddMinutes(-1)), label = true },
        });

        // The third names a time before any prediction of the entity: stored, counted as unmatched.
        Assert.Equal((3, 0, 1), Counts(result));
        await using var count = new NpgsqlCommand("SELECT count(*) FROM inference.feedback WHERE model = $1 AND entity_id = $2", database);
        count.Parameters.Add(new NpgsqlParameter { Value = _model });
        count.Parameters.Add(new NpgsqlParameter { Value = entity });
        Assert.Equal(3L, (long)(await count.ExecuteScalarAsync())!);
        var joined = await LabelledAsync(database, [first, second, shadow]);
        Assert.Equal([first, second], joined.Keys.Order());
        Assert.False(joined[first].Label.GetBoolean());
        Assert.True(joined[second].Label.GetBoolean());
        Assert.Equal(22, joined[second].Inputs.GetProperty("amount").GetDouble());
        Assert.Equal(entity, joined[second].EntityId);
    }

    [Fact]
    public async Task A_label_for_a_shadow_prediction_is_stored_but_never_joined_as_a_served_answer()
    {
        var shadow = Guid.NewGuid();
        await using var database = await _flywheel.OpenDatabaseAsync();
        await InsertPredictionAsync(database, shadow, DateTimeOffset.UtcNow, null, shadow: true, amount: 5);

        Assert.Equal((1, 0, 1), Counts(await SendAsync(_predictor, new { prediction_id = shadow, label = true })));

        Assert.Single(await FeedbackRowsAsync(database, [shadow]));
        Assert.Empty(await LabelledAsync(database, [shadow]));
    }

    [Fact]
    public async Task A_label_sent_before_its_prediction_is_logged_is_kept_and_joined_once_the_row_lands()
    {
        await using var database = await _flywheel.OpenDatabaseAsync();

        // Deterministic: the label names a prediction the log does not hold yet; the row lands afterwards.
        var early = Guid.NewGuid();
        Assert.Equal((1, 0, 1), Counts(await SendAsync(_predictor, new { prediction_id = early, label = true })));
        Assert.Single(await FeedbackRowsAsync(database, [early]));
        Assert.Empty(await LabelledAsync(database, [early]));
        await InsertPredictionAsync(database, early, DateTimeOffset.UtcNow, null, shadow: false, amount: 64);
        var landed = Assert.Single(await LabelledAsync(database, [early]));
        Assert.Equal((true, 64.0), (landed.Value.Label.GetBoolean(), landed.Value.Inputs.GetProperty("amount").GetDouble()));

        // Live: feedback sent straight after the answer, before the log's next flush as a rule.
        var served = (await PredictAsync(null, 42.5))[0];
        var raced = await SendAsync(_predictor, new { prediction_id = served, label = false });
        Assert.Equal(1, raced.GetProperty("accepted").GetInt64());
        await ServingSetup.WaitForLoggedAsync(database, [served], LogTimeout);
        var joined = Assert.Single(await LabelledAsync(database, [served]));
        Assert.Equal((false, 42.5, 1), (joined.Value.Label.GetBoolean(), joined.Value.Inputs.GetProperty("amount").GetDouble(), joined.Value.Version));
    }

    [Fact]
    public async Task A_repeated_label_is_a_duplicate_and_the_first_acknowledged_value_stays()
    {
        var id = (await PredictAsync(null, 7))[0];
        await using var database = await _flywheel.OpenDatabaseAsync();
        Assert.Equal(1, (await SendAsync(_predictor, new { prediction_id = id, label = true })).GetProperty("accepted").GetInt64());

        var again = await SendAsync(_predictor, new object[] { new { prediction_id = id, label = false }, new { prediction_id = id, label = false } });
        Assert.Equal(0, again.GetProperty("accepted").GetInt64());
        Assert.Equal(2, again.GetProperty("duplicates").GetInt64());

        // A repeat inside one new batch: the first of the batch is stored, the second is the duplicate.
        var entity = "fb-dup-" + Guid.NewGuid().ToString("N")[..8];
        var time = Iso(DateTimeOffset.UtcNow);
        var batch = await SendAsync(_predictor, new object[]
        {
            new { entity_id = entity, event_time = time, label = "true" },
            new { entity_id = entity, event_time = time, label = "false" },
        });
        Assert.Equal((1, 1), (batch.GetProperty("accepted").GetInt64(), batch.GetProperty("duplicates").GetInt64()));

        Assert.True(Assert.Single(await FeedbackRowsAsync(database, [id])).Value.Label.GetBoolean());
        await using var label = new NpgsqlCommand("SELECT label::text FROM inference.feedback WHERE model = $1 AND entity_id = $2", database);
        label.Parameters.Add(new NpgsqlParameter { Value = _model });
        label.Parameters.Add(new NpgsqlParameter { Value = entity });
        Assert.Equal("true", (string)(await label.ExecuteScalarAsync())!);
    }

    public static TheoryData<string, string, string> BadFeedback => new()
    {
        // label (JSON after the good first item), the error key, words the message must have
        { """{ "prediction_id": "{id}", "label": "maybe" }""", "[2].label", "not a boolean" },
        { """{ "label": true }""", "[2].prediction_id", "required" },
        { """{ "prediction_id": "12345", "label": true }""", "[2].prediction_id", "UUID" },
        { """{ "entity_id": "c-1", "event_time": "last tuesday", "label": true }""", "[2].event_time", "ISO-8601" },
        { """{ "prediction_id": "{id}" }""", "[2].label", "required" },
        { """{ "prediction_id": "{id}", "label": { "value": true } }""", "[2].label", "must be a number, a boolean or a string" },
        { """{ "entity_id": "c-1", "label": true }""", "[2].event_time", "required" },
        { """{ "prediction_id": "{id}", "label": true, "score": 0.3 }""", "[2].score", "not part of feedback" },
    };

    [Theory]
    [MemberData(nameof(BadFeedback))]
    public async Task Bad_feedback_is_refused_with_its_line_and_field_and_nothing_of_the_batch_is_stored(string bad, string key, string words)
    {
        var good = Guid.NewGuid();
        var body = $$"""[ { "prediction_id": "{{good}}", "label": true }, {{bad.Replace("{id}", Guid.NewGuid().ToString(), StringComparison.Ordinal)}} ]""";

        var problem = await SendRawAsync(_predictor, body, HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(key, out var messages), $"no '{key}' in {errors}");
        Assert.Contains(words, messages[0].GetString(), StringComparison.Ordinal);
        var line = Assert.Single(problem.GetProperty("lines").EnumerateArray());
        Assert.Equal(2, line.GetProperty("line").GetInt32());
        await using var database = await _flywheel.OpenDatabaseAsync();
        Assert.Empty(await FeedbackRowsAsync(database, [good]));
    }

    [Fact]
    public async Task A_body_that_is_not_json_or_has_too_many_items_is_refused_whole()
    {
        var notJson = await SendRawAsync(_predictor, "[ { \"prediction_id\": ", HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", notJson.GetProperty("errors").GetProperty("body")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("The request body is not valid JSON.", notJson.GetProperty("title").GetString());

        var first = Guid.NewGuid();
        var items = Enumerable.Range(0, 10_001).Select(i => $$"""{"prediction_id":"{{(i == 0 ? first : Guid.NewGuid())}}","label":true}""");
        var tooMany = await SendRawAsync(_predictor, "[" + string.Join(",", items) + "]", HttpStatusCode.BadRequest);
        Assert.Contains("1 to 10000", tooMany.GetProperty("errors").GetProperty("body")[0].GetString(), StringComparison.Ordinal);
        await using var database = await _flywheel.OpenDatabaseAsync();
        Assert.Empty(await FeedbackRowsAsync(database, [first]));

        using var unknown = await _admin.PostAsJsonAsync("/v1/models/no-such-model-" + Guid.NewGuid().ToString("N")[..6] + "/feedback", new { prediction_id = first, label = true });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Feedback_needs_a_key_that_may_call_the_model()
    {
        var body = new { prediction_id = Guid.NewGuid(), label = true };
        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using (var response = await anonymous.PostAsJsonAsync($"/v1/models/{_model}/feedback", body))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        var otherModel = await _admin.DefineModelAsync("fb-other", TrainingData.FraudModel);
        using var other = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(_admin, "fb-other-" + otherModel, ["predictor"], [otherModel]));
        using (var response = await other.PostAsJsonAsync($"/v1/models/{_model}/feedback", body))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        await using var database = await _flywheel.OpenDatabaseAsync();
        Assert.Empty(await FeedbackRowsAsync(database, [body.prediction_id]));
        // The same key may label its own model.
        Assert.Equal(1, (await SendAsync(other, new { prediction_id = body.prediction_id, label = false }, otherModel)).GetProperty("accepted").GetInt64());
    }

    [Fact]
    public async Task A_training_run_after_feedback_trains_on_the_labelled_predictions_with_their_served_values()
    {
        var ids = await PredictAsync(null, 777.25, 31.5, 555.5);
        await using var database = await _flywheel.OpenDatabaseAsync();
        await ServingSetup.WaitForLoggedAsync(database, ids, LogTimeout);
        Assert.Equal(3, (await SendAsync(_predictor, ids.Select((id, i) => new { prediction_id = id, label = i != 1 }).ToArray())).GetProperty("accepted").GetInt64());
        // The third prediction is also uploaded as an observation with its own outcome (event_id = the prediction id): one row, not two.
        var at = await PredictionTimeAsync(database, ids[2]);
        await TrainingData.UploadAsync(_admin, _model,
            $"event_id,event_time,entity_id,amount,merchant_category,is_online,hour,is_fraud\n{ids[2]},{Iso(at)},card-x,555.5,travel,false,3,1\n");

        var labelled = await ScalarAsync(database, "SELECT count(*) FROM inference.labelled_predictions WHERE model = $1", _model);
        var observations = await ScalarAsync(database, "SELECT count(*) FROM registry.observations WHERE model = $1 AND target IS NOT NULL", _model);
        var runId = await TrainingData.StartRunAsync(_admin, _model, new { trainer = "fasttree", seed = 2 });
        var run = await TrainingData.WaitForRunAsync(_admin, runId, TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");

        await using var snapshot = new NpgsqlCommand("SELECT id, rows FROM registry.snapshots WHERE run_id = $1", database);
        snapshot.Parameters.Add(new NpgsqlParameter { Value = runId });
        Guid snapshotId;
        long rows;
        await using (var reader = await snapshot.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            (snapshotId, rows) = (reader.GetGuid(0), reader.GetInt64(1));
        }

        // Every observation with a target and every labelled prediction, less the one that is both.
        Assert.Equal(observations + labelled - 1, rows);
        Assert.Equal(rows, await ScalarAsync(database, "SELECT count(*) FROM registry.snapshot_rows WHERE snapshot_id = $1", snapshotId));

        await using var served = new NpgsqlCommand("""
            SELECT event_time, features::text, target::text FROM registry.snapshot_rows
            WHERE snapshot_id = $1 AND (features->>'amount')::double precision = ANY($2)
            ORDER BY ordinal
            """, database);
        served.Parameters.Add(new NpgsqlParameter { Value = snapshotId });
        served.Parameters.Add(new NpgsqlParameter { Value = new[] { 777.25, 31.5, 555.5 } });
        var found = new List<(DateTimeOffset At, JsonElement Features, string Target)>();
        await using (var reader = await served.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                found.Add((reader.GetFieldValue<DateTimeOffset>(0), JsonDocument.Parse(reader.GetString(1)).RootElement, reader.GetString(2)));
            }
        }

        Assert.Equal(3, found.Count);
        var byAmount = found.ToDictionary(r => r.Features.GetProperty("amount").GetDouble());
        Assert.Equal("true", byAmount[777.25].Target);
        Assert.Equal("false", byAmount[31.5].Target);
        Assert.Equal(await PredictionTimeAsync(database, ids[0]), byAmount[777.25].At);
        // Served values as served, PII as missing (the log only has its hash).
        Assert.Equal(JsonValueKind.Null, byAmount[777.25].Features.GetProperty("merchant_category").ValueKind);
        Assert.True(byAmount[777.25].Features.GetProperty("is_online").GetBoolean());
        Assert.Equal(2, byAmount[777.25].Features.GetProperty("hour").GetDouble());
        // The prediction that is also an observation appears once, as the observation (the raw category the log only has hashed).
        Assert.Equal(("travel", "true"), (byAmount[555.5].Features.GetProperty("merchant_category").GetString(), byAmount[555.5].Target));
    }

    private async Task<Guid[]> PredictAsync(string? entity, params double[] amounts)
    {
        var instances = amounts.Select(amount => entity is null
            ? (object)new { amount, merchant_category = "online", is_online = true, hour = 2 }
            : new { entity_id = entity, amount, merchant_category = "online", is_online = true, hour = 2 });
        var response = await ServingSetup.PredictAsync(_predictor, _model, instances);
        return [.. response.GetProperty("prediction_ids").EnumerateArray().Select(id => id.GetGuid())];
    }

    private async Task<JsonElement> SendAsync(HttpClient client, object body, string? model = null)
    {
        using var response = await client.PostAsJsonAsync($"/v1/models/{model ?? _model}/feedback", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"feedback answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    private async Task<JsonElement> SendRawAsync(HttpClient client, string body, HttpStatusCode expected)
    {
        using var response = await client.PostAsync($"/v1/models/{_model}/feedback", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"feedback answered {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement;
    }

    private static (long Accepted, long Duplicates, long Unmatched) Counts(JsonElement result) =>
        (result.GetProperty("accepted").GetInt64(), result.GetProperty("duplicates").GetInt64(), result.GetProperty("unmatched").GetInt64());

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private sealed record FeedbackRow(JsonElement Label, string? Caller);

    private sealed record LabelledRow(int Version, bool Shadow, string? EntityId, JsonElement Inputs, JsonElement Label);

    private async Task<Dictionary<Guid, FeedbackRow>> FeedbackRowsAsync(NpgsqlConnection database, Guid[] ids)
    {
        await using var command = new NpgsqlCommand(
            "SELECT prediction_id, label::text, caller FROM inference.feedback WHERE prediction_id = ANY($1)", database);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        var rows = new Dictionary<Guid, FeedbackRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetGuid(0), new FeedbackRow(JsonDocument.Parse(reader.GetString(1)).RootElement, reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return rows;
    }

    private async Task<Dictionary<Guid, LabelledRow>> LabelledAsync(NpgsqlConnection database, Guid[] ids)
    {
        await using var command = new NpgsqlCommand("""
            SELECT prediction_id, version, shadow, entity_id, inputs::text, label::text
            FROM inference.labelled_predictions WHERE model = $1 AND prediction_id = ANY($2)
            """, database);
        command.Parameters.Add(new NpgsqlParameter { Value = _model });
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        var rows = new Dictionary<Guid, LabelledRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetGuid(0), new LabelledRow(reader.GetInt32(1), reader.GetBoolean(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                JsonDocument.Parse(reader.GetString(4)).RootElement, JsonDocument.Parse(reader.GetString(5)).RootElement));
        }

        return rows;
    }

    private static async Task<DateTimeOffset> PredictionTimeAsync(NpgsqlConnection database, Guid id)
    {
        await using var command = new NpgsqlCommand("SELECT at FROM inference.predictions WHERE prediction_id = $1 LIMIT 1", database);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"prediction {id} is not in the log");
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    /// <summary>A log row written as the prediction log writer would, for cases the live path cannot time (a late row, a shadow).</summary>
    private async Task InsertPredictionAsync(NpgsqlConnection database, Guid id, DateTimeOffset at, string? entity, bool shadow, double amount)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO inference.predictions (prediction_id, at, model, version, shadow, entity_id, inputs, outputs, latency_us, batch_size, caller)
            VALUES ($1, $2, $3, 1, $4, $5, $6::jsonb, '{"label": true, "score": 0.9}'::jsonb, 100, 1, 'test')
            """, database);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = at.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = _model });
        command.Parameters.Add(new NpgsqlParameter { Value = shadow });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)entity ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = JsonSerializer.Serialize(new { amount, merchant_category = "hmac-sha256:00", is_online = false, hour = 1 }),
        });
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection database, string sql, object parameter)
    {
        await using var command = new NpgsqlCommand(sql, database);
        command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
