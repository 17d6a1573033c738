using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Flywheel.Demo;

/// <summary>
/// Polls the public API and prints the loop's milestones once each as the platform reaches them:
/// drift reports turning drifted (or back), live performance falling, retraining runs starting and
/// finishing, rollouts changing state, production changing version. What was already there when
/// the runner started is taken as known, so a resumed demo prints only what is new.
/// </summary>
internal sealed class Milestones(DemoRunner runner, HttpClient http, string model)
{
    private readonly HashSet<string> _reports = [];
    private readonly Dictionary<Guid, string> _runs = [];
    private readonly Dictionary<Guid, string> _rollouts = [];
    private readonly HashSet<Guid> _decisions = [];
    private bool? _drifted;
    private int? _production;
    private bool _primed;

    public async Task WatchAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await LookAsync(cancellationToken);
                _primed = true;
            }
            // An answer of an unexpected shape (a field missing) is reported, not fatal: the traffic goes on.
            catch (Exception e) when (DemoRunner.Transient(e, cancellationToken) || e is StatusException or KeyNotFoundException or InvalidOperationException)
            {
                runner.Failed($"watching the loop: {e.Message}");
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    private async Task LookAsync(CancellationToken cancellationToken)
    {
        var api = $"/api/models/{model}";
        foreach (var report in (await GetAsync($"{api}/drift?limit=20", cancellationToken)).GetProperty("reports").EnumerateArray().Reverse())
        {
            if (_reports.Add(report.GetProperty("report_id").GetString()!) && _primed)
            {
                Report(report);
            }
        }

        foreach (var decision in (await GetAsync($"{api}/retraining", cancellationToken)).GetProperty("decisions").EnumerateArray().Reverse())
        {
            if (_decisions.Add(decision.GetProperty("id").GetGuid()) && _primed)
            {
                runner.Say($"retraining decision on {decision.GetProperty("trigger").GetString()}: {decision.GetProperty("decision").GetString()} ({decision.GetProperty("reason").GetString()})");
            }
        }

        foreach (var run in (await GetAsync($"{api}/training-runs", cancellationToken)).GetProperty("runs").EnumerateArray().Reverse())
        {
            var id = run.GetProperty("run_id").GetGuid();
            var state = run.GetProperty("state").GetString()!;
            var known = _runs.TryGetValue(id, out var before);
            _runs[id] = state;
            if (!_primed || before == state)
            {
                continue;
            }

            var trigger = run.GetProperty("trigger").GetString();
            if (!known)
            {
                runner.Say($"training run started by itself (trigger: {trigger}), run {id}");
            }

            if (state == "succeeded")
            {
                runner.Say($"training run finished: v{run.GetProperty("version")} registered{Metric(run)}");
            }
            else if (state == "failed")
            {
                runner.Say($"training run failed: {run.GetProperty("error")}");
            }
        }

        foreach (var rollout in (await GetAsync($"{api}/rollouts", cancellationToken)).GetProperty("rollouts").EnumerateArray().Reverse())
        {
            var id = rollout.GetProperty("rollout_id").GetGuid();
            var state = rollout.GetProperty("state").GetString()!;
            if (state == "canary" && !(rollout.TryGetProperty("bake_ends_at", out var ends) && ends.ValueKind == JsonValueKind.String))
            {
                // The bake starts when the canary first answers: say "canary" with its end, at the next look.
                continue;
            }

            var changed = !_rollouts.TryGetValue(id, out var before) || before != state;
            _rollouts[id] = state;
            if (_primed && changed)
            {
                runner.Say($"rollout of v{rollout.GetProperty("version")}: {state}{RolloutDetail(rollout, state)}");
            }
        }

        var production = (await GetAsync($"{api}/deployment", cancellationToken)).GetProperty("production").GetInt32();
        if (_production is { } previous && previous != production)
        {
            runner.Say($"production is now v{production} (was v{previous})");
        }

        _production = production;
    }

    private void Report(JsonElement report)
    {
        var drifted = report.GetProperty("drifted").GetBoolean();
        var version = report.GetProperty("version").GetInt32();
        var rows = report.GetProperty("window").GetProperty("rows").GetInt64();
        var performance = report.TryGetProperty("performance", out var p) && p.ValueKind == JsonValueKind.Object
            ? string.Create(CultureInfo.InvariantCulture, $"; live {p.GetProperty("metric").GetString()} {p.GetProperty("value").GetDouble():0.00}")
            : "";
        if (drifted)
        {
            var features = report.GetProperty("features").EnumerateArray().Where(f => f.GetProperty("drifted").GetBoolean()).Select(f => f.GetProperty("name").GetString());
            if (_drifted != true)
            {
                runner.Say($"DRIFT detected on v{version} over {rows:N0} predictions: {string.Join(", ", features)}{performance}");
            }
        }
        else if (_drifted != false)
        {
            runner.Say($"drift report on v{version}: no drift over {rows:N0} predictions{performance}");
        }

        if (report.TryGetProperty("performance_degraded", out var degraded) && degraded.GetBoolean() && _drifted != true)
        {
            runner.Say($"live performance of v{version} has degraded{performance}");
        }

        _drifted = drifted;
    }

    private static string Metric(JsonElement run) =>
        run.TryGetProperty("metrics", out var metrics) && metrics.ValueKind == JsonValueKind.Object && metrics.TryGetProperty("auc", out var auc)
            ? string.Create(CultureInfo.InvariantCulture, $" (held-out AUC {auc.GetDouble():0.000})")
            : "";

    private static string RolloutDetail(JsonElement rollout, string state)
    {
        if (state == "canary" && rollout.TryGetProperty("bake_ends_at", out var ends) && ends.ValueKind == JsonValueKind.String)
        {
            return $", baking until {ends.GetDateTimeOffset().ToLocalTime():HH:mm:ss}";
        }

        var analyses = rollout.GetProperty("analyses");
        if (analyses.GetArrayLength() > 0 && state is "promoted" or "rolled_back" or "failed" or "awaiting_approval")
        {
            var last = analyses[analyses.GetArrayLength() - 1];
            return $": {last.GetProperty("reason").GetString()}";
        }

        return rollout.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String ? $": {reason.GetString()}" : "";
    }

    private async Task<JsonElement> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = runner.AdminAuthorization;
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new StatusException($"GET {path} answered {(int)response.StatusCode}");
        }

        return await DemoRunner.ReadAsync(response, cancellationToken);
    }

    private sealed class StatusException(string message) : Exception(message);
}
