using System.Globalization;
using System.Text;

namespace Flywheel.Core.Demo;

/// <summary>The two worlds the demo's card transactions come from.</summary>
public enum CardFraudRegime
{
    /// <summary>
    /// Everyday spending: mostly groceries and fuel, small amounts; fraud follows large amounts,
    /// online merchants, the online channel and night hours.
    /// </summary>
    A,

    /// <summary>
    /// After the switch: amounts about three times larger, travel dominates and most payments are
    /// online (covariate shift), and fraud now follows travel merchants in the daytime and
    /// card-present payments while large amounts are mostly honest (a changed label relationship).
    /// </summary>
    B,
}

/// <summary>One card transaction with its true label, as the demo's model sees it.</summary>
public sealed record CardTransaction(
    string EventId,
    DateTimeOffset EventTime,
    string CardId,
    double Amount,
    string MerchantCategory,
    bool IsOnline,
    int Hour,
    bool IsFraud,
    CardFraudRegime Regime);

/// <summary>
/// Card transactions for the first-run demo: the same features as the loop scenario
/// (<c>amount</c>, <c>merchant_category</c>, <c>is_online</c>, <c>hour</c>; target
/// <c>is_fraud</c>), card ids from a fixed pool, a daily rhythm (quiet nights, busy lunchtimes and
/// evenings; which merchants are busy when; fraud's favourite hours) and a regime that switches
/// from <see cref="CardFraudRegime.A"/> to <see cref="CardFraudRegime.B"/> at
/// <see cref="SwitchAt"/>. The same seed gives the same transactions on every machine.
/// </summary>
public sealed class CardFraudGenerator
{
    public const string ModelName = "card-fraud";

    public const string CsvHeader = "event_id,event_time,entity_id,amount,merchant_category,is_online,hour,is_fraud";

    /// <summary>The model definition the generator's rows fit (<c>POST /api/models</c>).</summary>
    public const string ModelDefinition = """
        { "name": "card-fraud", "task": "binary", "entity_key": "card_id",
          "features": [ { "name": "amount", "type": "numeric", "min": 0 },
                        { "name": "merchant_category", "type": "categorical", "categories": ["grocery", "travel", "online", "fuel"] },
                        { "name": "is_online", "type": "boolean" },
                        { "name": "hour", "type": "numeric", "min": 0, "max": 23 } ],
          "target": { "name": "is_fraud", "type": "boolean" } }
        """;

    public static readonly IReadOnlyList<string> Categories = ["grocery", "travel", "online", "fuel"];

    /// <summary>
    /// Relative traffic in each hour of the day (mean 1): a quiet night, a lunchtime peak and a
    /// busier evening, the shape of card traffic in a single time zone.
    /// </summary>
    public static readonly IReadOnlyList<double> HourlyTraffic = Normalise(
        [0.45, 0.3, 0.2, 0.15, 0.15, 0.25, 0.5, 0.9, 1.2, 1.3, 1.4, 1.6, 1.8, 1.6, 1.4, 1.35, 1.4, 1.6, 1.8, 1.8, 1.6, 1.3, 1.0, 0.7]);

    private readonly Random _random;
    private readonly int _cards;
    private long _sequence;

    /// <param name="seed">Same seed, same transactions.</param>
    /// <param name="switchAt">Transactions at or after this time come from regime B.</param>
    /// <param name="cards">The size of the card pool entity ids are drawn from.</param>
    public CardFraudGenerator(int seed, DateTimeOffset switchAt, int cards = 2_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cards, 1);
        _random = new Random(seed);
        Seed = seed;
        SwitchAt = switchAt;
        _cards = cards;
    }

    public int Seed { get; }

    public DateTimeOffset SwitchAt { get; }

    public int Cards => _cards;

    public CardFraudRegime RegimeAt(DateTimeOffset time) => time < SwitchAt ? CardFraudRegime.A : CardFraudRegime.B;

    /// <summary>
    /// A live transaction happening at <paramref name="at"/>. The demo compresses days into
    /// minutes, so its local hour is drawn from the day's traffic profile instead of read off the
    /// clock: live traffic then spreads over the hours as the history does, and only the regime
    /// switch moves what arrives.
    /// </summary>
    public CardTransaction Next(DateTimeOffset at) => Draw(at, DrawHour(), RegimeAt(at));

    /// <summary>
    /// Transactions from <paramref name="from"/> for <paramref name="days"/> whole days, about
    /// <paramref name="perDay"/> a day, each hour's count following <see cref="HourlyTraffic"/>
    /// and each row's hour its own event time's, in time order.
    /// </summary>
    public IEnumerable<CardTransaction> History(DateTimeOffset from, int days, int perDay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(perDay, 24);
        for (var day = 0; day < days; day++)
        {
            for (var hour = 0; hour < 24; hour++)
            {
                var start = from.AddDays(day).AddHours(hour);
                var count = (int)Math.Round(perDay * HourlyTraffic[hour] / 24);
                var times = Enumerable.Range(0, count).Select(_ => start.AddSeconds(_random.NextDouble() * 3600)).Order().ToList();
                foreach (var time in times)
                {
                    yield return Draw(time, time.Hour, RegimeAt(time));
                }
            }
        }
    }

    /// <summary>The chance that a transaction is fraud under <paramref name="regime"/>'s rule.</summary>
    public static double FraudProbability(CardFraudRegime regime, double amount, string category, bool online, int hour)
    {
        var logit = regime == CardFraudRegime.A
            ? -3.0 + (amount / 250) + (category == "online" ? 1.2 : 0) + (online ? 0.8 : 0) + (hour < 5 ? 1.0 : 0)
            : -2.0 + (category == "travel" ? 1.8 : 0) + (hour is >= 9 and < 18 ? 1.2 : 0) - (amount / 900) + (online ? 0 : 0.6);
        return 1 / (1 + Math.Exp(-logit));
    }

    /// <summary>One CSV row under <see cref="CsvHeader"/>, in the invariant culture.</summary>
    public static string ToCsvRow(CardTransaction t) => string.Create(CultureInfo.InvariantCulture,
        $"{t.EventId},{t.EventTime.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ},{t.CardId},{t.Amount},{t.MerchantCategory},{(t.IsOnline ? "true" : "false")},{t.Hour},{(t.IsFraud ? 1 : 0)}");

    /// <summary>A labelled upload for <c>POST /api/models/{model}/data</c> (<c>text/csv</c>).</summary>
    public static string ToCsv(IEnumerable<CardTransaction> transactions)
    {
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var t in transactions)
        {
            csv.Append(ToCsvRow(t)).Append('\n');
        }

        return csv.ToString();
    }

    /// <summary>The features of a predict instance (<c>{ "instances": [ ... ] }</c>), with the card as <c>entity_id</c>.</summary>
    public static Dictionary<string, object> Instance(CardTransaction t) => new()
    {
        ["entity_id"] = t.CardId,
        ["amount"] = t.Amount,
        ["merchant_category"] = t.MerchantCategory,
        ["is_online"] = t.IsOnline,
        ["hour"] = t.Hour,
    };

    private CardTransaction Draw(DateTimeOffset time, int hour, CardFraudRegime regime)
    {
        var category = DrawCategory(regime, hour);
        var scale = regime == CardFraudRegime.A ? 900 : 2700;
        // A product of two uniforms: many small payments, a long tail of large ones; travel costs more.
        var amount = Math.Round(_random.NextDouble() * _random.NextDouble() * scale * CategoryPrice(category), 2);
        var online = _random.NextDouble() < OnlineShare(regime, category);
        var card = _random.Next(_cards);
        var fraud = _random.NextDouble() < FraudProbability(regime, amount, category, online, hour);
        var sequence = _sequence++;
        return new(
            string.Create(CultureInfo.InvariantCulture, $"demo-{Seed}-{sequence}"),
            time,
            string.Create(CultureInfo.InvariantCulture, $"card-{card:D5}"),
            amount,
            category,
            online,
            hour,
            fraud,
            regime);
    }

    private int DrawHour()
    {
        var u = _random.NextDouble() * 24;
        for (var hour = 0; hour < 23; hour++)
        {
            u -= HourlyTraffic[hour];
            if (u < 0)
            {
                return hour;
            }
        }

        return 23;
    }

    /// <summary>
    /// Regime A's merchant mix moves with the day (fuel and groceries by day, online shopping in
    /// the evening and at night); regime B is mostly travel at every hour.
    /// </summary>
    private string DrawCategory(CardFraudRegime regime, int hour)
    {
        if (regime == CardFraudRegime.B && _random.NextDouble() < 0.55)
        {
            return "travel";
        }

        var evening = hour is >= 19 or < 6;
        // grocery, travel, online, fuel
        double[] shares = regime == CardFraudRegime.B
            ? [0.25, 0.25, 0.25, 0.25]
            : evening ? [0.25, 0.15, 0.45, 0.15] : [0.35, 0.2, 0.2, 0.25];
        var u = _random.NextDouble();
        for (var i = 0; i < shares.Length - 1; i++)
        {
            u -= shares[i];
            if (u < 0)
            {
                return Categories[i];
            }
        }

        return Categories[^1];
    }

    private static double CategoryPrice(string category) => category switch
    {
        "travel" => 1.6,
        "grocery" => 0.6,
        "fuel" => 0.7,
        _ => 1.0,
    };

    private static double OnlineShare(CardFraudRegime regime, string category) => (regime, category) switch
    {
        (_, "online") => 0.95,
        (CardFraudRegime.A, _) => 0.2,
        _ => 0.6,
    };

    private static double[] Normalise(double[] weights)
    {
        var mean = weights.Average();
        return [.. weights.Select(w => w / mean)];
    }
}
