using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Uploading data through the gateway: validation by line and field, quarantine, duplicates, malformed files.</summary>
[Collection(SharedPlatform.Name)]
public sealed class IngestionTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    private const string Header = "event_id,entity_id,event_time,amount,merchant_category,is_online,is_fraud";

    private async Task<(HttpClient Gateway, string Model)> NewModelAsync()
    {
        var gateway = _flywheel.AdminGateway();
        var name = await gateway.DefineModelAsync("d", """
            { "name": "{name}", "task": "binary", "entity_key": "card_id",
              "features": [
                { "name": "amount", "type": "numeric", "min": 0 },
                { "name": "merchant_category", "type": "categorical", "categories": ["grocery", "travel"], "nullable": true },
                { "name": "is_online", "type": "boolean" } ],
              "target": { "name": "is_fraud", "type": "boolean" } }
            """);
        return (gateway, name);
    }

    private static Task<HttpResponseMessage> UploadAsync(HttpClient gateway, string model, string body, string contentType = "text/csv") =>
        gateway.PostAsync($"/api/models/{model}/data", new StringContent(body, Encoding.UTF8, contentType));

    private async Task<long> StoredRowsAsync(string model)
    {
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM registry.observations WHERE model = $1", connection);
        count.Parameters.Add(new NpgsqlParameter { Value = model });
        return (long)(await count.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task An_upload_with_bad_rows_reports_each_by_line_and_field_and_keeps_the_good_rows()
    {
        var (gateway, model) = await NewModelAsync();
        var csv = $"""
            {Header}
            e1,c1,2026-01-01T10:00:00Z,12.5,grocery,true,0
            e2,c2,2026-01-01T11:00:00Z,-3,grocery,false,0
            e3,c3,2026-01-01T12:00:00Z,40,casino,1,1
            e4,c4,2026-01-01T13:00:00Z,7,,0,0
            e5,c5,not-a-time,8,travel,maybe,1

            """;

        using var response = await UploadAsync(gateway, model, csv);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, result.GetProperty("accepted").GetInt64());
        Assert.Equal(3, result.GetProperty("rejected").GetInt64());
        var errors = result.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("line").GetInt64(), e.GetProperty("field").GetString())).ToList();
        Assert.Equal([(3L, "amount"), (4L, "merchant_category"), (6L, "is_online"), (6L, "event_time")], errors);
        Assert.Equal(0.5, result.GetProperty("missing_rates").GetProperty("merchant_category").GetDouble());
        Assert.Equal(1, result.GetProperty("problems").GetProperty("amount").GetProperty("range").GetInt64());
        Assert.Equal(2, await StoredRowsAsync(model));

        var id = result.GetProperty("ingestion_id").GetString();
        var detail = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/ingestions/{id}");
        Assert.Equal("succeeded", detail.GetProperty("state").GetString());
        var quarantine = detail.GetProperty("quarantine").EnumerateArray().ToList();
        Assert.Equal([3L, 4L, 6L], quarantine.Select(q => q.GetProperty("line").GetInt64()));
        Assert.Equal("casino", quarantine[1].GetProperty("values").GetProperty("merchant_category").GetString());
        Assert.Contains("not a known category", quarantine[1].GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_with_an_event_id_seen_before_are_counted_as_duplicates_and_stored_once()
    {
        var (gateway, model) = await NewModelAsync();
        var first = $"{Header}\na,c1,2026-01-01T10:00:00Z,1,grocery,true,0\nb,c2,2026-01-01T10:00:00Z,2,grocery,true,0\na,c1,2026-01-01T10:00:00Z,1,grocery,true,0\n";
        var second = $"{Header}\nb,c2,2026-01-01T10:00:00Z,2,grocery,true,0\nc,c3,2026-01-01T10:00:00Z,3,travel,false,1\n";

        var one = await (await UploadAsync(gateway, model, first)).Content.ReadFromJsonAsync<JsonElement>();
        var two = await (await UploadAsync(gateway, model, second)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal((2L, 1L), (one.GetProperty("accepted").GetInt64(), one.GetProperty("duplicates").GetInt64()));
        Assert.Equal((1L, 1L), (two.GetProperty("accepted").GetInt64(), two.GetProperty("duplicates").GetInt64()));
        Assert.Equal(3, await StoredRowsAsync(model));
    }

    [Fact]
    public async Task Ndjson_rows_are_validated_the_same_way_with_predicts_json_types_and_a_line_that_is_not_json_is_quarantined()
    {
        var (gateway, model) = await NewModelAsync();
        // Line 5 sends a number as a string and a boolean as 0, line 6 an entity id as a number:
        // predict refuses each of them, so an upload does too. The target is a label, read from its text.
        var ndjson = """
            {"event_id":"n1","entity_id":"c1","amount":3.5,"merchant_category":"travel","is_online":true,"is_fraud":false}
            {"event_id":"n2","entity_id":"c1","amount":"lots","is_online":false}
            {not json
            {"event_id":"n3","entity_id":"c2","amount":0,"merchant_category":null,"is_online":false,"is_fraud":"1"}
            {"event_id":"n4","entity_id":"c3","amount":"3.5","is_online":0}
            {"event_id":"n5","entity_id":17,"amount":1,"is_online":true}

            """;

        using var response = await UploadAsync(gateway, model, ndjson, "application/x-ndjson");

        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, result.GetProperty("accepted").GetInt64());
        var errors = result.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("line").GetInt64(), e.GetProperty("field").GetString(), e.GetProperty("message").GetString())).ToList();
        Assert.Equal(
            [
                (2L, "amount", "must be a JSON number, not the string \"lots\"."),
                (3L, "line", errors[1].Item3),
                (5L, "amount", "must be a JSON number, not the string \"3.5\"."),
                (5L, "is_online", "must be true or false, not the number 0."),
                (6L, "entity_id", "must be a string, not the number 17."),
            ],
            errors);
        Assert.Equal(2, await StoredRowsAsync(model));
    }

    [Theory]
    [InlineData("GET", "/api/models/{model}/ingestions/not-a-uuid", "id", "'not-a-uuid' is not a UUID.")]
    [InlineData("GET", "/api/models/{model}/snapshots/42/rows", "id", "'42' is not a UUID.")]
    [InlineData("GET", "/api/models/{model}/versions/latest", "version", "'latest' is not a whole number.")]
    [InlineData("GET", "/api/models/{model}/rollouts/first", "rolloutId", "'first' is not a UUID.")]
    [InlineData("GET", "/api/training-runs/run-1", "runId", "'run-1' is not a UUID.")]
    [InlineData("GET", "/api/batch-predictions/job-1/result", "jobId", "'job-1' is not a UUID.")]
    [InlineData("DELETE", "/api/keys/my-key", "id", "'my-key' is not a UUID.")]
    [InlineData("GET", "/api/models/{model}/ingestions/0194d3b2-6f1e-7a55-9c1e-2f0b5e4d3c21?limit=many", "limit", "'many' is not a whole number.")]
    public async Task An_id_or_number_that_is_not_one_is_a_400_naming_the_parameter_not_a_404(string method, string path, string field, string message)
    {
        var (gateway, model) = await NewModelAsync();

        using var response = await gateway.SendAsync(new HttpRequestMessage(new HttpMethod(method), path.Replace("{model}", model, StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(message, problem.GetProperty("errors").GetProperty(field)[0].GetString());
        Assert.Equal("A value in the request's path or query could not be read.", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_ragged_row_is_rejected_at_its_line_and_the_rows_around_it_are_kept()
    {
        var (gateway, model) = await NewModelAsync();
        var csv = $"{Header}\ne1,c1,2026-01-01T10:00:00Z,1,grocery,true,0\ne2,c2,2026-01-01T10:00:00Z,2,grocery,true,0\ne3,c3,2026-01-01T10:00:00Z,3\n" +
            "e4,c4,2026-01-01T10:00:00Z,4,grocery,true,0\ne5,c5,2026-01-01T10:00:00Z,5,grocery,true,0,extra\ne6,c6,2026-01-01T10:00:00Z,6,travel,false,1\n";

        using var response = await UploadAsync(gateway, model, csv);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((4L, 2L), (report.GetProperty("accepted").GetInt64(), report.GetProperty("rejected").GetInt64()));
        var errors = report.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("line").GetInt64(), e.GetProperty("field").GetString(), e.GetProperty("message").GetString())).ToList();
        Assert.Equal([(4L, "line", "has 4 fields; the header has 7."), (6L, "line", "has 8 fields; the header has 7.")], errors);
        Assert.Equal(4, await StoredRowsAsync(model));

        // The short row is in the quarantine with the fields it had, by position.
        var detail = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/ingestions/{report.GetProperty("ingestion_id").GetString()}");
        Assert.Equal("succeeded", detail.GetProperty("state").GetString());
        var quarantined = detail.GetProperty("quarantine").EnumerateArray().First(r => r.GetProperty("line").GetInt64() == 4);
        Assert.Equal("3", quarantined.GetProperty("values").GetProperty("amount").GetString());
        Assert.False(quarantined.GetProperty("values").TryGetProperty("merchant_category", out _));
    }

    [Fact]
    public async Task An_unclosed_quote_stops_the_upload_with_a_400_at_its_line_by_field_and_keeps_the_rows_before_it()
    {
        var (gateway, model) = await NewModelAsync();
        var csv = $"{Header}\ne1,c1,2026-01-01T10:00:00Z,1,grocery,true,0\ne2,c2,2026-01-01T10:00:00Z,2,grocery,true,0\ne3,c3,2026-01-01T10:00:00Z,3,\"grocery,true,0\ne4,c4,2026-01-01T10:00:00Z,4,grocery,true,0\n";

        using var response = await UploadAsync(gateway, model, csv);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, problem.GetProperty("accepted").GetInt64());
        Assert.Contains("quoted field is not closed", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var message = Assert.Single(problem.GetProperty("errors").GetProperty("body").EnumerateArray().ToList()).GetString();
        Assert.StartsWith($"line {problem.GetProperty("line").GetInt64()}: ", message, StringComparison.Ordinal);
        Assert.Equal(2, await StoredRowsAsync(model));
        var detail = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/ingestions/{problem.GetProperty("ingestion_id").GetString()}");
        Assert.Equal("failed", detail.GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("event_id,amount,is_online,colour\ne1,1,true,red\n", "column 'colour'")]
    [InlineData("event_id,merchant_category,is_online\ne1,grocery,true\n", "required feature 'amount'")]
    [InlineData("event_id,amount,amount,is_online\ne1,1,2,true\n", "more than once")]
    [InlineData("", "empty")]
    public async Task A_wrong_header_is_refused_before_any_row(string csv, string reason)
    {
        var (gateway, model) = await NewModelAsync();

        using var response = await UploadAsync(gateway, model, csv);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await StoredRowsAsync(model));
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_refused()
    {
        var (gateway, model) = await NewModelAsync();
        var bytes = Encoding.UTF8.GetBytes($"{Header}\ne1,c1,2026-01-01T10:00:00Z,1,grocery,true,0\ne2,c2,2026-01-01T10:00:00Z,2,gro").Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("cery,true,0\n")).ToArray();
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");

        using var response = await gateway.PostAsync($"/api/models/{model}/data", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("UTF-8", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ten_megabyte_line_is_refused_with_its_line_number()
    {
        var (gateway, model) = await NewModelAsync();
        var csv = $"{Header}\ne1,c1,2026-01-01T10:00:00Z,1,grocery,true,0\ne2,c2,2026-01-01T10:00:00Z,2,{new string('g', 10 << 20)},true,0\n";

        using var response = await UploadAsync(gateway, model, csv);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, problem.GetProperty("line").GetInt64());
        Assert.Equal(1, await StoredRowsAsync(model));
    }

    [Fact]
    public async Task Uploads_need_an_operating_key_a_known_model_and_a_supported_format()
    {
        var (gateway, model) = await NewModelAsync();
        using var anonymous = _flywheel.CreateClient(ResourceNames.Gateway);

        using var noKey = await UploadAsync(anonymous, model, $"{Header}\n");
        using var unknownModel = await UploadAsync(gateway, "no-such-model", $"{Header}\n");
        using var wrongType = await UploadAsync(gateway, model, "<xml/>", "application/xml");

        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownModel.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType.StatusCode);
    }

    [Fact]
    public async Task Events_are_accepted_one_at_a_time_or_in_small_batches()
    {
        var (gateway, model) = await NewModelAsync();

        using var single = await gateway.PostAsJsonAsync($"/api/models/{model}/events",
            JsonNode.Parse("""{"event_id":"s1","entity_id":"c9","amount":1,"is_online":true}"""));
        using var batch = await gateway.PostAsJsonAsync($"/api/models/{model}/events", JsonNode.Parse("""
            [ {"event_id":"b1","entity_id":"c9","amount":2,"is_online":false},
              {"event_id":"b2","entity_id":"c9","amount":-2,"is_online":false},
              {"event_id":"s1","entity_id":"c9","amount":1,"is_online":true} ]
            """));
        using var tooMany = await gateway.PostAsJsonAsync($"/api/models/{model}/events", Enumerable.Range(0, 10_001).Select(i => new { event_id = $"x{i}" }));

        Assert.Equal(1, (await single.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt64());
        var result = await batch.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((1L, 1L, 1L), (result.GetProperty("accepted").GetInt64(), result.GetProperty("rejected").GetInt64(), result.GetProperty("duplicates").GetInt64()));
        Assert.Equal(2, result.GetProperty("errors")[0].GetProperty("line").GetInt64());
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Equal(2, await StoredRowsAsync(model));
    }

    [Fact]
    public async Task The_online_store_keeps_each_entitys_latest_values_whatever_order_they_arrive_in()
    {
        var (gateway, model) = await NewModelAsync();
        var csv = $"""
            {Header}
            e2,c1,2026-01-01T12:00:00Z,20,travel,true,0
            e1,c1,2026-01-01T10:00:00Z,10,grocery,false,0
            e3,c2,2026-01-01T09:00:00Z,5,grocery,false,1

            """;
        using var upload = await UploadAsync(gateway, model, csv);
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);

        var c1 = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/features/c1");
        Assert.Equal(20, c1.GetProperty("features").GetProperty("amount").GetDouble());
        Assert.Equal("travel", c1.GetProperty("features").GetProperty("merchant_category").GetString());
        Assert.Equal(DateTimeOffset.Parse("2026-01-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture), c1.GetProperty("event_time").GetDateTimeOffset());

        using var newer = await gateway.PostAsJsonAsync($"/api/models/{model}/events",
            JsonNode.Parse("""{"event_id":"e4","entity_id":"c1","event_time":"2026-01-02T00:00:00Z","amount":30,"is_online":false}"""));
        var updated = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/features/c1");
        Assert.Equal(30, updated.GetProperty("features").GetProperty("amount").GetDouble());
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("features").GetProperty("merchant_category").ValueKind);

        using var unknown = await gateway.GetAsync($"/api/models/{model}/features/nobody");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Stored_rows_quarantined_rows_and_online_features_are_read_only_with_a_key_that_reads()
    {
        var (gateway, model) = await NewModelAsync();
        var csv = $"""
            {Header}
            e1,c1,2026-01-01T10:00:00Z,10,grocery,false,0
            e2,c2,2026-01-01T11:00:00Z,-4,grocery,false,1

            """;
        using var upload = await UploadAsync(gateway, model, csv);
        var ingestionId = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ingestion_id").GetString();
        using var snapshot = await gateway.PostAsJsonAsync($"/api/models/{model}/snapshots", new { });
        Assert.True(snapshot.IsSuccessStatusCode, await snapshot.Content.ReadAsStringAsync());
        var snapshotId = (await snapshot.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("snapshot_id").GetString();
        string[] rows = [$"/api/models/{model}/ingestions/{ingestionId}", $"/api/models/{model}/snapshots/{snapshotId}/rows", $"/api/models/{model}/features/c1"];

        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(gateway, "rows-predictor-" + Guid.NewGuid().ToString("N")[..8], ["predictor"], [model]));
        using var viewer = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(gateway, "rows-viewer-" + Guid.NewGuid().ToString("N")[..8], ["viewer"], null));
        foreach (var path in rows)
        {
            using var refused = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            using var forbidden = await predictor.GetAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            using var read = await viewer.GetAsync(path);
            Assert.True(read.StatusCode == HttpStatusCode.OK, $"{path}: {await read.Content.ReadAsStringAsync()}");
        }

        // What a viewer reads is the rows themselves, the quarantined one with its values.
        var detail = await viewer.GetFromJsonAsync<JsonElement>(rows[0]);
        var quarantined = Assert.Single(detail.GetProperty("quarantine").EnumerateArray().ToList());
        Assert.Equal("-4", quarantined.GetProperty("values").GetProperty("amount").GetString());
        Assert.Equal(10, (await viewer.GetFromJsonAsync<JsonElement>(rows[2])).GetProperty("features").GetProperty("amount").GetDouble());

        // The list of ingestions holds counts only and stays open, as the rest of the control plane's reads.
        using var list = await anonymous.GetAsync($"/api/models/{model}/ingestions");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
    }

    [Fact]
    public async Task An_event_time_far_ahead_of_the_clock_is_rejected_and_cannot_pin_an_entity_s_online_values()
    {
        var (gateway, model) = await NewModelAsync();
        var now = DateTimeOffset.UtcNow;
        var csv = $"{Header}\ne1,c1,{now.AddMinutes(-5):O},10,grocery,false,0\ne2,c1,9999-12-31T23:59:59Z,99,travel,true,1\n";

        using var upload = await UploadAsync(gateway, model, csv);

        var report = await upload.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((1L, 1L), (report.GetProperty("accepted").GetInt64(), report.GetProperty("rejected").GetInt64()));
        var error = Assert.Single(report.GetProperty("errors").EnumerateArray().ToList());
        Assert.Equal((3L, "event_time"), (error.GetProperty("line").GetInt64(), error.GetProperty("field").GetString()));
        var online = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/features/c1");
        Assert.Equal(10, online.GetProperty("features").GetProperty("amount").GetDouble());

        using var labels = await gateway.PostAsJsonAsync($"/api/models/{model}/labels",
            new[] { new { entity_id = "c1", event_time = now.AddYears(5), is_fraud = true } });
        Assert.Equal(HttpStatusCode.BadRequest, labels.StatusCode);
    }
}
