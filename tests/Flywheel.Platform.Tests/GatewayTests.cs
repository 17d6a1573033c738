using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>What the gateway decides on its own, before any inference worker predicts: keys, roles, limits, body size.</summary>
[Collection(SharedPlatform.Name)]
public sealed class GatewayTests(PlatformFixture fixture)
{
    private const string PredictBody = """{ "instances": [ { "amount": 12.5, "entity_id": "c-1" } ] }""";
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task Predict_without_a_key_or_with_an_unknown_key_is_401_with_a_bearer_challenge_while_v2_reads_stay_open()
    {
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        using (var anonymous = await PredictAsync(gateway, "any-model"))
        {
            await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, "authorization");
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        }

        using (var unknown = await PredictAsync(gateway, "any-model", key: "fw-not-a-key-" + Guid.NewGuid()))
        {
            await AssertProblemAsync(unknown, HttpStatusCode.Unauthorized, "authorization");
        }

        using var infer = new HttpRequestMessage(HttpMethod.Post, "/v2/models/any-model/versions/1/infer") { Content = Json(PredictBody) };
        infer.Headers.Add("X-Api-Key", "fw-not-a-key-" + Guid.NewGuid());
        using (var inferUnknown = await gateway.SendAsync(infer))
        {
            await AssertProblemAsync(inferUnknown, HttpStatusCode.Unauthorized, "authorization");
        }

        using var live = await gateway.GetAsync("/v2/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_within_seconds_even_though_it_was_cached()
    {
        var (key, id) = await InsertKeyAsync("predictor", models: null);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        // Twice, so the second is answered from the gateway's cache.
        for (var i = 0; i < 2; i++)
        {
            using var allowed = await PredictAsync(gateway, "some-model", key);
            Assert.NotEqual(HttpStatusCode.Unauthorized, allowed.StatusCode);
            Assert.NotEqual(HttpStatusCode.Forbidden, allowed.StatusCode);
        }

        await using (var database = await _flywheel.OpenDatabaseAsync())
        await using (var revoke = new NpgsqlCommand("UPDATE registry.api_keys SET revoked_at = now() WHERE id = $1", database))
        {
            revoke.Parameters.Add(new NpgsqlParameter { Value = id });
            Assert.Equal(1, await revoke.ExecuteNonQueryAsync());
        }

        // The cache would hold the key for 30 s: a refusal within 5 s (ms, unless the machine is
        // busy) is the revocation's notification at work.
        var revokedAt = Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            using var response = await PredictAsync(gateway, "some-model", key);
            status = response.StatusCode;
        }
        while (status != HttpStatusCode.Unauthorized && revokedAt.Elapsed < TimeSpan.FromSeconds(5));

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task A_predictor_key_scoped_to_another_model_is_forbidden_and_allowed_on_its_own()
    {
        var mine = "mine-" + Guid.NewGuid().ToString("N")[..8];
        var (key, _) = await InsertKeyAsync("predictor", models: [mine]);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        using (var other = await PredictAsync(gateway, "someone-elses-model", key))
        {
            await AssertProblemAsync(other, HttpStatusCode.Forbidden, "authorization");
        }

        using var infer = new HttpRequestMessage(HttpMethod.Post, "/v2/models/someone-elses-model/infer") { Content = Json(PredictBody) };
        infer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using (var otherInfer = await gateway.SendAsync(infer))
        {
            await AssertProblemAsync(otherInfer, HttpStatusCode.Forbidden, "authorization");
        }

        using var own = await PredictAsync(gateway, mine, key);
        Assert.NotEqual(HttpStatusCode.Forbidden, own.StatusCode);
        Assert.NotEqual(HttpStatusCode.Unauthorized, own.StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_requests_per_second_gets_429_with_retry_after_and_recovers()
    {
        var (key, _) = await InsertKeyAsync("predictor", models: null, requestsPerSecond: 2);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            var response = await PredictAsync(gateway, "rate-model", key);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                response.Dispose();
            }
        }

        // A burst of 2 passes, then the bucket is empty.
        Assert.NotNull(limited);
        Assert.All(statuses.Take(2), s => Assert.NotEqual(HttpStatusCode.TooManyRequests, s));
        using (limited)
        {
            var retryAfter = limited.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "api_key");
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var again = await PredictAsync(gateway, "rate-model", key);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, again.StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_daily_quota_gets_429_until_utc_midnight_on_every_route()
    {
        var (key, _) = await InsertKeyAsync("operator", models: null, dailyQuota: 3);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        for (var i = 0; i < 3; i++)
        {
            using var allowed = await PredictAsync(gateway, "quota-model", key);
            Assert.NotEqual(HttpStatusCode.TooManyRequests, allowed.StatusCode);
        }

        var sent = DateTime.UtcNow;
        using (var predict = await PredictAsync(gateway, "quota-model", key))
        {
            var answered = DateTime.UtcNow;
            await AssertProblemAsync(predict, HttpStatusCode.TooManyRequests, "api_key");
            // The gateway counted the seconds to the next UTC midnight (rounded up) between sending and answering.
            var midnight = sent.Date.AddDays(1);
            Assert.InRange(predict.Headers.RetryAfter!.Delta!.Value, midnight - answered - TimeSpan.FromSeconds(1), midnight - sent + TimeSpan.FromSeconds(1));
        }

        // The same key on the control plane counts against the same quota.
        using var api = new HttpRequestMessage(HttpMethod.Get, "/api/models");
        api.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var control = await gateway.SendAsync(api);
        Assert.Equal(HttpStatusCode.TooManyRequests, control.StatusCode);

        // The count reached Redis, where every gateway replica reads it.
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(await _flywheel.ConnectionStringAsync(ResourceNames.OnlineStore));
        await using (redis)
        {
            var counter = $"flywheel:quota:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))}:{DateTime.UtcNow:yyyyMMdd}";
            var deadline = DateTime.UtcNow.AddSeconds(30);
            long counted;
            while ((counted = (long)await redis.GetDatabase().StringGetAsync(counter)) < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.Equal(3, counted);
        }
    }

    [Fact]
    public async Task A_call_its_quota_refuses_is_refused_for_its_quota_again_never_for_its_rate()
    {
        // Two requests a second and one a day: every call after the first is over the quota, and
        // asking again must keep saying so (with the wait until midnight), however the gateway
        // reads the call, rather than spend the rate on calls that were refused.
        var (key, _) = await InsertKeyAsync("operator", models: null, requestsPerSecond: 2, dailyQuota: 1);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);
        using (var allowed = await PredictAsync(gateway, "quota-model", key))
        {
            Assert.NotEqual(HttpStatusCode.TooManyRequests, allowed.StatusCode);
        }

        for (var i = 0; i < 4; i++)
        {
            using var refused = await PredictAsync(gateway, "quota-model", key);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<Microsoft.AspNetCore.Mvc.ValidationProblemDetails>();
            Assert.Contains("daily quota", problem!.Detail, StringComparison.Ordinal);
            Assert.True(refused.Headers.RetryAfter!.Delta!.Value > TimeSpan.FromSeconds(2) || DateTime.UtcNow.TimeOfDay > TimeSpan.FromHours(23.99),
                $"call {i}: Retry-After {refused.Headers.RetryAfter} is the rate's, not the quota's");
        }
    }

    [Fact]
    public async Task An_oversized_predict_body_is_413_without_reaching_inference()
    {
        var (key, _) = await InsertKeyAsync("predictor", models: null);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);
        var huge = "{ \"instances\": [ { \"note\": \"" + new string('x', 5 << 20) + "\" } ] }";

        using var response = await PredictAsync(gateway, "big-model", key, huge);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");

        // A body under the limit passes the gateway.
        using var small = await PredictAsync(gateway, "big-model", key);
        Assert.NotEqual(HttpStatusCode.RequestEntityTooLarge, small.StatusCode);
    }

    [Fact]
    public async Task Requests_no_known_key_vouches_for_are_limited_per_client_address_and_keyed_ones_and_other_clients_pass()
    {
        // The services take the client's address from the rightmost X-Forwarded-For entry, the one
        // Azure Container Apps' ingress appends (ASPNETCORE_FORWARDEDHEADERS_ENABLED), so a test names
        // its own client there. The entries left of it change on every request, as a client spoofing
        // them would make them; they must not earn it a fresh limit.
        var client = $"203.0.113.{Random.Shared.Next(1, 255)}";
        var (key, _) = await InsertKeyAsync("predictor", models: null);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);
        using (var warm = await SendFromAsync(gateway, "198.51.100.1", key))
        {
            // Looked up once from another client, so the key is in the gateway's cache.
            Assert.NotEqual(HttpStatusCode.Unauthorized, warm.StatusCode);
        }

        var (answered, limited) = await SendUntilLimitedAsync(round => SendFromAsync(gateway, $"192.0.2.{round % 250}, {client}", key: null));
        using (limited)
        {
            // The default rate is 100 a second with a burst of as many.
            Assert.True(answered >= 100, $"limited after {answered} anonymous requests");
            Assert.InRange(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 2);
            await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "client");
        }

        // Guessing keys has a budget of its own, 20 lookups a second: every guess is a different unknown key.
        var guesser = $"203.0.113.{Random.Shared.Next(1, 255)}";
        var (guesses, stopped) = await SendUntilLimitedAsync(_ => SendFromAsync(gateway, guesser, "fw-not-a-key-" + Guid.NewGuid()));
        using (stopped)
        {
            Assert.True(guesses >= 20, $"limited after {guesses} guesses");
            var problem = await stopped.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains("looked up at most 20 times a second", problem.GetProperty("errors").GetProperty("client")[0].GetString(), StringComparison.Ordinal);
        }

        // The client over its anonymous rate can still use a valid key the gateway has never seen:
        // its anonymous traffic does not use up its lookups.
        var (fresh, _) = await InsertKeyAsync("predictor", models: null);
        using (var unseen = await SendFromAsync(gateway, client, fresh))
        {
            Assert.NotEqual(HttpStatusCode.TooManyRequests, unseen.StatusCode);
            Assert.NotEqual(HttpStatusCode.Unauthorized, unseen.StatusCode);
        }

        // A known key from the same client is held to its own limits, not the client's anonymous one.
        using (var keyed = await SendFromAsync(gateway, client, key))
        {
            Assert.NotEqual(HttpStatusCode.TooManyRequests, keyed.StatusCode);
            Assert.NotEqual(HttpStatusCode.Unauthorized, keyed.StatusCode);
        }

        // Another client is not affected.
        using (var other = await SendFromAsync(gateway, "198.51.100.2", key: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
        }
    }

    [Fact]
    public async Task An_unknown_key_is_remembered_for_seconds_and_forgotten_at_once_when_a_key_of_that_value_is_created()
    {
        var time = new ManualTime();
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        using var store = new ApiKeyStore(database, time, new ApiKeyCacheSettings(TimeSpan.FromSeconds(30)), NullLogger<ApiKeyStore>.Instance);

        // Remembered before the store listens; once it listens it forgets everything, which says it is listening.
        var before = "fw-test-" + Guid.NewGuid();
        Assert.Null(await store.FindAsync(before, CancellationToken.None));
        Assert.True(store.TryGetCached(before, out _));
        await store.StartAsync(CancellationToken.None);
        try
        {
            await WaitUntilAsync(() => !store.TryGetCached(before, out _));

            // Created without a notification (triggers off for that session): the store still
            // answers from memory that the key is unknown, until its few seconds are up.
            var quiet = "fw-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            Assert.Null(await store.FindAsync(quiet, CancellationToken.None));
            Assert.True(store.TryGetCached(quiet, out var remembered));
            Assert.Null(remembered);
            await InsertKeyValueAsync(quiet, "quietly-created", notify: false);
            Assert.Null(await store.FindAsync(quiet, CancellationToken.None));
            time.Advance(ApiKeyStore.UnknownKeyDuration + TimeSpan.FromMilliseconds(1));
            Assert.StartsWith("quietly-created-", (await store.FindAsync(quiet, CancellationToken.None))?.Name);

            // Created as the registry creates keys: the notification makes the store forget it as
            // unknown at once, with no time passing on the store's clock.
            var created = "fw-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            Assert.Null(await store.FindAsync(created, CancellationToken.None));
            await InsertKeyValueAsync(created, "created", notify: true);
            await WaitUntilAsync(() => !store.TryGetCached(created, out _));
            Assert.StartsWith("created-", (await store.FindAsync(created, CancellationToken.None))?.Name);
        }
        finally
        {
            await store.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_key_in_use_is_read_again_before_it_expires_so_it_never_expires_under_load_and_a_revocation_is_found_that_way()
    {
        var time = new ManualTime();
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        // Not started, so not listening: only reading the key again can tell the store anything.
        using var store = new ApiKeyStore(database, time, new ApiKeyCacheSettings(TimeSpan.FromSeconds(30)), NullLogger<ApiKeyStore>.Instance);
        var (key, id) = await InsertKeyAsync("predictor", models: null);
        Assert.Equal(id, (await store.FindAsync(key, CancellationToken.None))?.Id);

        // Four fifths of the way to its expiry, a request that finds it starts one read of it, and is answered from memory.
        time.Advance(TimeSpan.FromSeconds(25));
        Assert.True(store.TryGetCached(key, out var inUse));
        Assert.Equal(id, inUse?.Id);
        await WaitUntilAsync(() => store.RefreshesInFlight == 0);

        // Past the first expiry, it is still trusted: the read trusted it for another 30 s.
        time.Advance(TimeSpan.FromSeconds(15));
        Assert.True(store.TryGetCached(key, out var refreshed));
        Assert.Equal(id, refreshed?.Id);

        // Revoked with no notification: the next read drops it, and the request after that finds it gone.
        await using (var connection = await _flywheel.OpenDatabaseAsync())
        await using (var revoke = new NpgsqlCommand("UPDATE registry.api_keys SET revoked_at = now() WHERE id = $1", connection))
        {
            revoke.Parameters.Add(new NpgsqlParameter { Value = id });
            Assert.Equal(1, await revoke.ExecuteNonQueryAsync());
        }

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(store.TryGetCached(key, out _));
        await WaitUntilAsync(() => store.RefreshesInFlight == 0);
        Assert.False(store.TryGetCached(key, out _));
        Assert.Null(await store.FindAsync(key, CancellationToken.None));
    }

    [Fact]
    public async Task Requests_for_a_key_that_is_not_cached_share_one_lookup_so_none_is_refused_for_its_clients_lookup_budget()
    {
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        using var store = new ApiKeyStore(database, TimeProvider.System, new ApiKeyCacheSettings(TimeSpan.FromSeconds(30)), NullLogger<ApiKeyStore>.Instance);
        var (key, id) = await InsertKeyAsync("predictor", models: null);

        // The first request starts the lookup; every one after it joins that lookup while it runs, or finds its answer in memory after.
        var first = store.FindAsync(key, CancellationToken.None).AsTask();
        Assert.NotNull(store.LookupInProgress(key));
        var rest = Enumerable.Range(0, 49).Select(_ => store.FindAsync(key, CancellationToken.None).AsTask()).ToList();
        var found = await Task.WhenAll([first, .. rest]);

        Assert.All(found, caller => Assert.Equal(id, caller?.Id));
        Assert.Equal(1, store.Loads);
        Assert.Null(store.LookupInProgress(key));

        // Through the gateway: more requests at once than the client's 20 lookups a second, for a key the gateway has never seen.
        var client = $"198.18.{Random.Shared.Next(0, 255)}.{Random.Shared.Next(1, 255)}";
        var (fresh, _) = await InsertKeyAsync("predictor", models: null);
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);
        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => SendFromAsync(gateway, client, fresh)));
        try
        {
            Assert.All(responses, response =>
            {
                Assert.NotEqual(HttpStatusCode.TooManyRequests, response.StatusCode);
                Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
            });
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    /// <summary>Sends ten at a time, so the requests outrun the limit's refill even on a busy machine, until one is a 429; counts the 401s before it.</summary>
    private static async Task<(int Unauthorized, HttpResponseMessage Limited)> SendUntilLimitedAsync(Func<int, Task<HttpResponseMessage>> send)
    {
        var unauthorized = 0;
        HttpResponseMessage? limited = null;
        for (var round = 0; round < 300 && limited is null; round++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => send((round * 10) + i)));
            foreach (var response in responses)
            {
                Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, $"{response.StatusCode}");
                if (response.StatusCode == HttpStatusCode.TooManyRequests && limited is null)
                {
                    limited = response;
                    continue;
                }

                unauthorized += limited is null && response.StatusCode == HttpStatusCode.Unauthorized ? 1 : 0;
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        return (unauthorized, limited);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "the store did not hear from the database within 10 s");
            await Task.Delay(20);
        }
    }

    private async Task InsertKeyValueAsync(string key, string name, bool notify)
    {
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        if (!notify)
        {
            await using var quiet = new NpgsqlCommand("SET LOCAL session_replication_role = replica", connection, transaction);
            await quiet.ExecuteNonQueryAsync();
        }

        await using var insert = new NpgsqlCommand(
            "INSERT INTO registry.api_keys (id, name, key_hash, roles, created_by) VALUES ($1, $2, $3, $4, 'gateway-tests')", connection, transaction);
        insert.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
        insert.Parameters.Add(new NpgsqlParameter { Value = name + "-" + Guid.NewGuid().ToString("N")[..8] });
        insert.Parameters.Add(new NpgsqlParameter { Value = SHA256.HashData(Encoding.UTF8.GetBytes(key)) });
        insert.Parameters.Add(new NpgsqlParameter { Value = new[] { Roles.Predictor } });
        await insert.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    private static Task<HttpResponseMessage> SendFromAsync(HttpClient gateway, string forwardedFor, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/any-model:predict") { Content = Json(PredictBody) };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return gateway.SendAsync(request);
    }

    /// <summary>A clock that moves only when told.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _timestamp = Stopwatch.GetTimestamp();

        public override long TimestampFrequency => Stopwatch.Frequency;

        public override long GetTimestamp() => Interlocked.Read(ref _timestamp);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _timestamp, (long)(by.TotalSeconds * Stopwatch.Frequency));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> PredictAsync(HttpClient gateway, string model, string? key = null, string body = PredictBody)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{model}:predict") { Content = Json(body) };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return gateway.SendAsync(request);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.GetProperty("errors").GetProperty(field).GetArrayLength() > 0, $"no error for '{field}': {problem}");
    }

    /// <summary>A fresh key inserted as the registry stores it (SHA-256 only), returned with its id.</summary>
    internal async Task<(string Key, Guid Id)> InsertKeyAsync(string role, string[]? models, int? requestsPerSecond = null, long? dailyQuota = null)
    {
        var key = "fw-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var id = Guid.CreateVersion7();
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO registry.api_keys (id, name, key_hash, roles, models, requests_per_second, daily_quota, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'gateway-tests')
            """, database);
        insert.Parameters.Add(new NpgsqlParameter { Value = id });
        insert.Parameters.Add(new NpgsqlParameter { Value = $"{role}-{id:N}"[..20] });
        insert.Parameters.Add(new NpgsqlParameter { Value = SHA256.HashData(Encoding.UTF8.GetBytes(key)) });
        insert.Parameters.Add(new NpgsqlParameter { Value = new[] { role } });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)models ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)requestsPerSecond ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)dailyQuota ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        await insert.ExecuteNonQueryAsync();
        return (key, id);
    }
}
