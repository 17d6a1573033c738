using System.Net;
using Flywheel.Console.Platform;
using Flywheel.Console.Tests.Fakes;
using Flywheel.Console.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flywheel.Console.Tests.Platform;

public sealed class PlatformClientTests : IDisposable
{
    private readonly FakeRegistry _registry = new();
    private readonly HttpClient _http;
    private readonly PlatformClient _client;

    public PlatformClientTests()
    {
        _http = new HttpClient(_registry) { BaseAddress = new Uri("http://registry.test") };
        _client = new PlatformClient(_http, NullLogger<PlatformClient>.Instance);
    }

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task A_model_is_read_from_snake_case_json()
    {
        _registry.Json("/api/models/card-fraud", Canned.Model());

        var model = (await _client.GetModelAsync("card-fraud", CancellationToken.None)).Value!;

        Assert.Equal(("card-fraud", "binary", "card_id"), (model.Name, model.Task, model.EntityKey));
        Assert.Equal(3, model.Features.Count);
        Assert.Equal(new FeatureView("amount", "numeric", false, 0, 10000, null, false), model.Features[0]);
        Assert.True(model.Features[2].Pii);
        Assert.Equal(["grocery", "travel"], model.Features[1].Categories);
        Assert.Equal(new TargetView("is_fraud", "boolean"), model.Target);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), model.CreatedAt);
    }

    [Fact]
    public async Task A_version_is_read_with_its_lineage_and_reference_profile()
    {
        _registry.Json("/api/models/card-fraud/versions/2", Canned.Version(2, """{ "auc": 0.9, "log_loss": "NaN" }""", parent: 1, withProfile: true));

        var version = (await _client.GetVersionAsync("card-fraud", 2, CancellationToken.None)).Value!;

        Assert.Equal(0.9, version.Metrics["auc"]);
        Assert.True(double.IsNaN(version.Metrics["log_loss"]));
        Assert.Equal(20480, version.Artifact.Bytes);
        Assert.Equal(3.2e-7, version.Parity.MaxAbsDiff);
        Assert.Equal((1000L, 42, 1), (version.Lineage.Rows, version.Lineage.Seed, version.Lineage.ParentVersion!.Value));
        Assert.Equal(31, version.Lineage.Hyperparameters["num_leaves"]);
        Assert.Equal(120.25, version.ReferenceProfile!.Features[0].Numeric!.Mean);
        Assert.Equal(0.75, version.ReferenceProfile.Features[1].Categorical!.Categories[0].Share);
    }

    [Fact]
    public async Task A_model_name_is_escaped_in_the_path()
    {
        _registry.Json("/api/models/a%20b/training-runs", Canned.Runs());

        Assert.NotNull((await _client.GetTrainingRunsAsync("a b", CancellationToken.None)).Value);
    }

    [Fact]
    public async Task An_ingestion_is_asked_for_a_page_of_its_quarantine_with_the_signed_in_key()
    {
        var id = Guid.Parse(Canned.IngestionId);
        _registry.Json($"/api/models/card-fraud/ingestions/{id}?offset=100&limit=50", Canned.Ingestion(3, "[]"));

        var ingestion = (await _client.GetIngestionAsync("card-fraud", id, 100, PlatformCredential.ForKey("fw_reader"), CancellationToken.None)).Value!;

        Assert.Equal((97L, 3L, 1L), (ingestion.Accepted, ingestion.Rejected, ingestion.Duplicates));
        Assert.Equal("fw_reader", Assert.Single(_registry.Sent).ApiKey);
    }

    [Fact]
    public async Task A_404_becomes_a_not_found_problem_carrying_the_registry_detail()
    {
        _registry.Problem("/api/models/ghost", HttpStatusCode.NotFound, "Model not found", "There is no model named 'ghost'.");

        var result = await _client.GetModelAsync("ghost", CancellationToken.None);

        Assert.Null(result.Value);
        Assert.Equal(new ApiProblem(ApiProblemKind.NotFound, "There is no model named 'ghost'."), result.Problem);
    }

    [Fact]
    public async Task A_server_error_names_its_status()
    {
        _registry.Problem("/api/models", HttpStatusCode.ServiceUnavailable, "Unavailable", "The database is starting.");

        var result = await _client.GetModelsAsync(CancellationToken.None);

        Assert.Equal(ApiProblemKind.Failed, result.Problem!.Kind);
        Assert.Equal("The control plane answered HTTP 503: The database is starting.", result.Problem.Message);
    }

    [Fact]
    public async Task An_error_without_a_problem_body_names_only_its_status()
    {
        var result = await _client.GetModelsAsync(CancellationToken.None);

        Assert.Equal("The control plane answered HTTP 500.", result.Problem!.Message);
    }

    [Fact]
    public async Task An_unreachable_registry_is_a_problem_that_does_not_leak_its_address()
    {
        _registry.Down();

        var result = await _client.GetModelsAsync(CancellationToken.None);

        Assert.Equal(ApiProblemKind.Unreachable, result.Problem!.Kind);
        Assert.DoesNotContain("registry.internal", result.Problem.Message, StringComparison.Ordinal);
        Assert.Contains("could not be reached", result.Problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_that_is_not_the_expected_json_is_unreadable()
    {
        _registry.Json("/api/models", "<html>a proxy's error page</html>");

        var result = await _client.GetModelsAsync(CancellationToken.None);

        Assert.Equal(ApiProblemKind.Unreadable, result.Problem!.Kind);
    }

    [Fact]
    public async Task A_null_body_is_unreadable() =>
        Assert.Equal(ApiProblemKind.Unreadable, (await ClientAnswering("null").GetModelsAsync(CancellationToken.None)).Problem!.Kind);

    [Fact]
    public async Task A_timeout_is_its_own_problem()
    {
        using var http = new HttpClient(new Hanging()) { BaseAddress = new Uri("http://registry.test"), Timeout = TimeSpan.FromMilliseconds(50) };
        var client = new PlatformClient(http, NullLogger<PlatformClient>.Instance);

        var result = await client.GetModelsAsync(CancellationToken.None);

        Assert.Equal(ApiProblemKind.Timeout, result.Problem!.Kind);
    }

    [Fact]
    public async Task A_call_cancelled_by_its_page_is_cancelled_not_reported()
    {
        using var http = new HttpClient(new Hanging()) { BaseAddress = new Uri("http://registry.test") };
        var client = new PlatformClient(http, NullLogger<PlatformClient>.Instance);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetModelsAsync(cancellation.Token));
    }

    private PlatformClient ClientAnswering(string body)
    {
        _registry.Json("/api/models", body);
        return _client;
    }

    /// <summary>A registry that accepts the connection and never answers.</summary>
    private sealed class Hanging : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}
