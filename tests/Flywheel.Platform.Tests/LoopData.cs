using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Card transactions from two regimes, for the closed-loop scenario. In regime A fraud is driven by
/// large amounts, online merchants, the online channel and night hours (as in
/// <see cref="TrainingData.FraudCsv"/>). Regime B shifts both what arrives and what it means:
/// amounts are about three times larger and travel dominates the merchant mix (covariate shift),
/// and fraud now follows travel merchants in the daytime while large amounts are mostly honest (a
/// changed label relationship), so a model trained on A ranks B's transactions badly.
/// </summary>
internal static class LoopData
{
    private static readonly string[] Categories = ["grocery", "travel", "online", "fuel"];

    public sealed record Transaction(double Amount, string Category, bool Online, int Hour, bool Fraud)
    {
        public object Instance => new { amount = Amount, merchant_category = Category, is_online = Online, hour = Hour };
    }

    public static Transaction RegimeA(Random random)
    {
        var amount = Math.Round(random.NextDouble() * random.NextDouble() * 900, 2);
        var category = Categories[random.Next(Categories.Length)];
        var online = random.NextDouble() < 0.4;
        var hour = random.Next(24);
        var logit = -3.0 + (amount / 250) + (category == "online" ? 1.2 : 0) + (online ? 0.8 : 0) + (hour < 5 ? 1.0 : 0);
        return new(amount, category, online, hour, random.NextDouble() < Sigmoid(logit));
    }

    public static Transaction RegimeB(Random random)
    {
        var amount = Math.Round(random.NextDouble() * random.NextDouble() * 2700, 2);
        var category = random.NextDouble() < 0.55 ? "travel" : Categories[random.Next(Categories.Length)];
        var online = random.NextDouble() < 0.7;
        var hour = random.Next(24);
        var daytime = hour is >= 9 and < 18;
        var logit = -2.0 + (category == "travel" ? 1.8 : 0) + (daytime ? 1.2 : 0) - (amount / 900) + (online ? 0 : 0.6);
        return new(amount, category, online, hour, random.NextDouble() < Sigmoid(logit));
    }

    /// <summary>Regime B's transactions labelled by regime A's rule: the inputs shift, what they mean does not.</summary>
    public static Transaction CovariateShift(Random random)
    {
        var b = RegimeB(random);
        var logit = -3.0 + (b.Amount / 250) + (b.Category == "online" ? 1.2 : 0) + (b.Online ? 0.8 : 0) + (b.Hour < 5 ? 1.0 : 0);
        return b with { Fraud = random.NextDouble() < Sigmoid(logit) };
    }

    /// <summary>Labelled rows of regime A as CSV for ingestion, an hour apart from <paramref name="start"/>.</summary>
    public static string RegimeACsv(int rows, int seed, DateTimeOffset start)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("event_id,event_time,entity_id,amount,merchant_category,is_online,hour,is_fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var t = RegimeA(random);
            csv.Append(CultureInfo.InvariantCulture,
                $"a{seed}-{i},{start.AddHours(i):O},card-{random.Next(500)},{t.Amount},{t.Category},{(t.Online ? "true" : "false")},{t.Hour},{(t.Fraud ? 1 : 0)}\n");
        }

        return csv.ToString();
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}

/// <summary>
/// Live traffic for a model through the gateway, with its feedback: every tick one predict call
/// of <c>batch</c> transactions from <c>regime</c>, then their true labels by prediction id — or
/// the opposite labels while <see cref="InvertLabels"/> is set, as a broken labelling pipeline
/// would send them. Runs until disposed; any failed call fails the test that owns it.
/// </summary>
internal sealed class LiveTraffic : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _predicted;
    private long _labelled;
    private volatile string? _failure;

    public LiveTraffic(HttpClient predictor, string model, Func<Random, LoopData.Transaction> regime, int batch, TimeSpan tick, int seed)
    {
        _loop = Task.Run(async () =>
        {
            var random = new Random(seed);
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var transactions = Enumerable.Range(0, batch).Select(_ => regime(random)).ToArray();
                    using var predicted = await predictor.PostAsJsonAsync($"/v1/models/{model}:predict",
                        new { instances = transactions.Select(t => t.Instance) }, _stop.Token);
                    if (!predicted.IsSuccessStatusCode)
                    {
                        _failure = $"predict answered {(int)predicted.StatusCode}: {await predicted.Content.ReadAsStringAsync(_stop.Token)}";
                        return;
                    }

                    var ids = (await predicted.Content.ReadFromJsonAsync<JsonElement>(_stop.Token)).GetProperty("prediction_ids")
                        .EnumerateArray().Select(id => id.GetString()!).ToArray();
                    Interlocked.Add(ref _predicted, ids.Length);
                    var invert = InvertLabels;
                    var labels = ids.Zip(transactions, (id, t) => new { prediction_id = id, label = t.Fraud != invert }).ToArray();
                    using var fed = await predictor.PostAsJsonAsync($"/v1/models/{model}/feedback", labels, _stop.Token);
                    if (!fed.IsSuccessStatusCode)
                    {
                        _failure = $"feedback answered {(int)fed.StatusCode}: {await fed.Content.ReadAsStringAsync(_stop.Token)}";
                        return;
                    }

                    Interlocked.Add(ref _labelled, ids.Length);
                    await Task.Delay(tick, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        });
    }

    /// <summary>Send the opposite of each true label (a labelling bug) while set.</summary>
    public volatile bool InvertLabels;

    public long Predicted => Interlocked.Read(ref _predicted);

    public long Labelled => Interlocked.Read(ref _labelled);

    /// <summary>Fails the caller if the traffic stopped on an error.</summary>
    public void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            Assert.Fail($"Live traffic stopped: {failure}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        ThrowIfFailed();
    }
}
