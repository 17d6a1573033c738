using System.Net;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.Console.Tests.Components;

public sealed class PredictionsPageTests : ConsoleTest
{
    [Fact]
    public void Without_sign_in_the_page_asks_for_it_comes_back_to_the_id_and_reads_nothing()
    {
        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        Assert.Contains("needs an operator or admin key", Text(page.Find(".empty")), StringComparison.Ordinal);
        Assert.Equal($"/sign-in?return=%2Fpredictions%2F{CannedPredictions.PredictionId}", page.Find(".empty a").GetAttribute("href"));
        Assert.Empty(page.FindAll("form"));
        Assert.Empty(Registry.Requests);
    }

    [Fact]
    public async Task A_found_prediction_shows_its_values_label_and_the_chain_to_what_trained_it()
    {
        await SignInAsync();
        Registry.Json(CannedPredictions.Path, CannedPredictions.Prediction(CannedPredictions.Label));

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        page.WaitForElement("dl.prediction-facts");
        var facts = Facts(page.Find("dl.prediction-facts"));
        Assert.Equal("card-fraud", facts["Model"]);
        Assert.Equal("v3", facts["Version"]);
        Assert.Equal("answer returned to the caller", facts["Served as"]);
        Assert.Equal("2026-01-05 11:59:58 UTC", facts["Time"]);
        Assert.Equal("card-17", facts["Entity"]);
        Assert.Equal("checkout", facts["Caller"]);
        Assert.Equal("1.84 ms", facts["Latency"]);
        Assert.Equal("4", facts["Batch size"]);
        Assert.Equal("/models/card-fraud/versions/3", page.Find("dl.prediction-facts a[href*='/versions/']").GetAttribute("href"));

        var tables = page.FindAll("table.values");
        Assert.Equal(
            [["amount", "42.5"], ["merchant_category", "travel"], ["email", "hmac-sha256:77aa"]],
            tables[0].QuerySelectorAll("tbody tr").Select(Cells));
        Assert.Equal([["label", "true"], ["score", "0.875"]], tables[1].QuerySelectorAll("tbody tr").Select(Cells));
        Assert.All(page.FindAll("table.values thead th"), th => Assert.Equal("col", th.GetAttribute("scope")));

        var feedback = Facts(page.Find(".prediction-feedback dl"));
        Assert.Equal("true", feedback["Label"]);
        Assert.Equal("the prediction id", feedback["Matched by"]);
        Assert.Empty(page.FindAll(".prediction-feedback .problem"));

        var chain = Facts(page.Find("dl.lineage-chain"));
        Assert.StartsWith("v3, created 2026-01-03 10:00:00 UTC", chain["Version"], StringComparison.Ordinal);
        Assert.Equal("v2", chain["Parent version"]);
        Assert.Equal(Canned.RunId, chain["Training run"]);
        Assert.Equal("learning_rate=0.05, num_leaves=31", chain["Hyperparameters"]);
        Assert.Equal("drift, requested by orchestrator", chain["Trigger"]);
        Assert.Equal("1,000", chain["Rows"]);
        Assert.Equal("the first row to 2026-01-01 00:00:00 UTC", chain["Data window"]);
        var links = page.FindAll("dl.lineage-chain a").Select(a => a.GetAttribute("href")).ToList();
        Assert.Equal(
            ["/models/card-fraud/versions/3", "/models/card-fraud/versions/2", $"/runs/{Canned.RunId}", $"/api/models/card-fraud/snapshots/{Canned.SnapshotId}"],
            links);

        Assert.All(Registry.Sent, r => Assert.Equal(OperatorKey, r.ApiKey));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public async Task A_label_on_a_shadow_prediction_is_shown_as_stored_but_not_joined()
    {
        await SignInAsync();
        Registry.Json(CannedPredictions.Path, CannedPredictions.Prediction(CannedPredictions.ShadowLabel, shadow: true));

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        page.WaitForElement(".prediction-feedback dl");
        Assert.StartsWith("shadow", Facts(page.Find("dl.prediction-facts"))["Served as"], StringComparison.Ordinal);
        Assert.Equal("false", Facts(page.Find(".prediction-feedback dl"))["Label"]);
        Assert.StartsWith("Stored but not joined", Text(page.Find(".prediction-feedback .problem")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_prediction_without_a_label_says_none_came_back()
    {
        await SignInAsync();
        Registry.Json(CannedPredictions.Path, CannedPredictions.Prediction());

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        page.WaitForAssertion(() => Assert.Equal("No label has come back for this prediction.", Text(page.Find(".prediction-feedback p"))));
    }

    [Fact]
    public async Task An_unknown_id_shows_the_registry_s_not_found_in_words()
    {
        await SignInAsync();
        Registry.Problem(CannedPredictions.Path, HttpStatusCode.NotFound, "Prediction not found", $"There is no prediction {CannedPredictions.PredictionId} in the log.");

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        page.WaitForAssertion(() => Assert.Equal($"There is no prediction {CannedPredictions.PredictionId} in the log.", Text(page.Find(".problem[role=alert]"))));
        Assert.Empty(page.FindAll("dl.prediction-facts"));
    }

    [Fact]
    public async Task A_malformed_id_in_the_address_is_explained_and_not_sent()
    {
        await SignInAsync();

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, "not-an-id"));

        Assert.StartsWith("That is not a prediction id", Text(page.Find("#prediction-id-error")), StringComparison.Ordinal);
        Assert.Equal("prediction-id-error", page.Find("#prediction-id").GetAttribute("aria-describedby"));
        Assert.Equal(["/api/keys/me"], Registry.Requests);
    }

    [Fact]
    public async Task A_malformed_id_the_registry_refuses_shows_its_reason()
    {
        await SignInAsync();
        Registry.Problem(CannedPredictions.Path, HttpStatusCode.BadRequest, "The prediction id is not valid.", "predictionId: must be a prediction id.");

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        page.WaitForAssertion(() => Assert.Equal("The control plane answered HTTP 400: predictionId: must be a prediction id.", Text(page.Find(".problem[role=alert]"))));
    }

    [Fact]
    public async Task Typing_an_id_goes_to_its_address_and_a_malformed_one_stays_with_an_explanation()
    {
        await SignInAsync();
        var navigation = Services.GetRequiredService<NavigationManager>();
        var page = Render<PredictionsPage>();

        Assert.Equal("Prediction id", Text(page.Find("label[for=prediction-id]")));
        page.Find("#prediction-id").Input("nonsense");
        page.Find("form.lookup").Submit();
        Assert.NotNull(page.Find("#prediction-id-error"));
        Assert.EndsWith("/", navigation.Uri, StringComparison.Ordinal);

        page.Find("#prediction-id").Input($"  {CannedPredictions.PredictionId} ");
        page.Find("form.lookup").Submit();
        Assert.EndsWith($"/predictions/{CannedPredictions.PredictionId}", navigation.Uri, StringComparison.Ordinal);
        Assert.Equal(["/api/keys/me"], Registry.Requests);
    }

    [Fact]
    public async Task A_predictor_key_is_refused_in_words_and_not_sent()
    {
        await SignInAsync("svc", "predictor");
        Registry.Problem(CannedPredictions.Path, HttpStatusCode.Forbidden, "Forbidden", "");

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        Assert.Contains("needs a viewer, operator or admin key", Text(page.Find("#cannot-read")), StringComparison.Ordinal);
        Assert.Empty(page.FindAll("form.lookup"));
        Assert.Equal(0, Registry.Count(CannedPredictions.Path));
    }

    private static Dictionary<string, string> Facts(AngleSharp.Dom.IElement list) =>
        list.QuerySelectorAll("dt").ToDictionary(Text, dt => Text(dt.NextElementSibling!));
}
