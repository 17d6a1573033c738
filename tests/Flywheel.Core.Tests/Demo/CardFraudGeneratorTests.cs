using System.Globalization;
using Flywheel.Core.Demo;

namespace Flywheel.Core.Tests.Demo;

public sealed class CardFraudGeneratorTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Switch = Start.AddDays(1);

    private static List<CardTransaction> Live(CardFraudRegime regime, int count, int seed = 1)
    {
        var generator = new CardFraudGenerator(seed, Switch);
        var at = regime == CardFraudRegime.A ? Switch.AddSeconds(-1) : Switch;
        return [.. Enumerable.Range(0, count).Select(_ => generator.Next(at))];
    }

    private static double Share<T>(IReadOnlyCollection<T> items, Func<T, bool> predicate) => items.Count(predicate) / (double)items.Count;

    private static double FraudRate(IEnumerable<CardTransaction> transactions)
    {
        var list = transactions.ToList();
        Assert.True(list.Count >= 200, $"too few transactions ({list.Count}) to estimate a rate");
        return Share(list, t => t.IsFraud);
    }

    [Fact]
    public void The_same_seed_gives_the_same_transactions_and_another_seed_different_ones()
    {
        var first = new CardFraudGenerator(42, Switch);
        var second = new CardFraudGenerator(42, Switch);
        var other = new CardFraudGenerator(43, Switch);
        var a = first.History(Start, 2, 500).Concat(Enumerable.Range(0, 500).Select(_ => first.Next(Switch))).ToList();
        var b = second.History(Start, 2, 500).Concat(Enumerable.Range(0, 500).Select(_ => second.Next(Switch))).ToList();
        var c = other.History(Start, 2, 500).Concat(Enumerable.Range(0, 500).Select(_ => other.Next(Switch))).ToList();

        Assert.Equal(a, b);
        Assert.Equal(CardFraudGenerator.ToCsv(a), CardFraudGenerator.ToCsv(b));
        Assert.Equal(a.Count, c.Count);
        Assert.True(a.Zip(c).Count(p => p.First.Amount != p.Second.Amount) > a.Count * 0.9, "another seed should draw other amounts");
    }

    [Fact]
    public void The_regime_follows_the_switch_time()
    {
        var generator = new CardFraudGenerator(1, Switch);

        Assert.Equal(CardFraudRegime.A, generator.RegimeAt(Switch.AddTicks(-1)));
        Assert.Equal(CardFraudRegime.B, generator.RegimeAt(Switch));
        Assert.Equal(CardFraudRegime.A, generator.Next(Switch.AddMinutes(-1)).Regime);
        Assert.Equal(CardFraudRegime.B, generator.Next(Switch.AddMinutes(1)).Regime);
        var history = generator.History(Start, 2, 480).ToList();
        Assert.All(history.Where(t => t.EventTime < Switch), t => Assert.Equal(CardFraudRegime.A, t.Regime));
        Assert.All(history.Where(t => t.EventTime >= Switch), t => Assert.Equal(CardFraudRegime.B, t.Regime));
        Assert.Contains(history, t => t.Regime == CardFraudRegime.B);
    }

    [Fact]
    public void Regime_A_has_everyday_amounts_a_mixed_merchant_mix_and_mostly_card_present_payments()
    {
        var a = Live(CardFraudRegime.A, 40_000);

        Assert.All(a, t => Assert.InRange(t.Amount, 0, 900 * 1.6));
        // E[u1·u2] = 1/4, times the scale 900 and the categories' mean price (about 0.9 in A's mix).
        Assert.InRange(a.Average(t => t.Amount), 180, 230);
        foreach (var category in CardFraudGenerator.Categories)
        {
            Assert.InRange(Share(a, t => t.MerchantCategory == category), 0.15, 0.36);
        }

        Assert.InRange(Share(a, t => t.IsOnline), 0.3, 0.42);
        Assert.InRange(Share(a, t => t.MerchantCategory == "online" && t.IsOnline) / Share(a, t => t.MerchantCategory == "online"), 0.93, 0.97);
        Assert.InRange(FraudRate(a), 0.1, 0.3);
    }

    [Fact]
    public void Regime_B_shifts_amounts_about_threefold_and_the_mix_to_travel_and_online_payments()
    {
        var a = Live(CardFraudRegime.A, 40_000);
        var b = Live(CardFraudRegime.B, 40_000);

        Assert.InRange(b.Average(t => t.Amount) / a.Average(t => t.Amount), 3.4, 4.4);
        Assert.InRange(Median(b.Select(t => t.Amount)) / Median(a.Select(t => t.Amount)), 3, 4.6);
        // 55% drawn as travel outright plus a quarter of the rest.
        Assert.InRange(Share(b, t => t.MerchantCategory == "travel"), 0.64, 0.68);
        Assert.InRange(Share(a, t => t.MerchantCategory == "travel"), 0.15, 0.21);
        Assert.InRange(Share(b, t => t.IsOnline), 0.6, 0.7);
        Assert.True(Share(b, t => t.Amount > 900 * 1.6) > 0.05, "regime B should reach amounts regime A never does");
        Assert.Equal(a.Select(t => t.Hour).Distinct().Order(), b.Select(t => t.Hour).Distinct().Order());
    }

    [Fact]
    public void In_regime_A_fraud_follows_large_amounts_online_merchants_and_night_hours()
    {
        var a = Live(CardFraudRegime.A, 60_000);
        var amounts = a.Select(t => t.Amount).Order().ToList();
        var lowQuartile = amounts[amounts.Count / 4];
        var highQuartile = amounts[amounts.Count * 3 / 4];

        Assert.True(FraudRate(a.Where(t => t.Amount >= highQuartile)) > 2 * FraudRate(a.Where(t => t.Amount <= lowQuartile)));
        Assert.True(FraudRate(a.Where(t => t.MerchantCategory == "online")) > 1.5 * FraudRate(a.Where(t => t.MerchantCategory == "grocery")));
        Assert.True(FraudRate(a.Where(t => t.Hour < 5)) > 1.5 * FraudRate(a.Where(t => t.Hour is >= 9 and < 18)));
    }

    [Fact]
    public void In_regime_B_fraud_follows_daytime_travel_and_large_amounts_are_mostly_honest()
    {
        var b = Live(CardFraudRegime.B, 60_000);
        var amounts = b.Select(t => t.Amount).Order().ToList();
        var lowQuartile = amounts[amounts.Count / 4];
        var highQuartile = amounts[amounts.Count * 3 / 4];

        Assert.True(FraudRate(b.Where(t => t.Amount >= highQuartile)) < FraudRate(b.Where(t => t.Amount <= lowQuartile)) - 0.1);
        Assert.True(FraudRate(b.Where(t => t.MerchantCategory == "travel")) > FraudRate(b.Where(t => t.MerchantCategory == "online")) + 0.2);
        Assert.True(FraudRate(b.Where(t => t.Hour is >= 9 and < 18)) > FraudRate(b.Where(t => t.Hour is < 5 or >= 21)) + 0.15);
        Assert.True(FraudRate(b.Where(t => !t.IsOnline)) > FraudRate(b.Where(t => t.IsOnline)) + 0.05);
    }

    [Fact]
    public void The_switch_turns_the_label_rule_around_so_a_rule_for_A_ranks_B_worse_than_chance()
    {
        var b = Live(CardFraudRegime.B, 20_000);

        // Score B's transactions with A's rule (what a model of A learned) and with B's own.
        var underA = Auc(b, t => CardFraudGenerator.FraudProbability(CardFraudRegime.A, t.Amount, t.MerchantCategory, t.IsOnline, t.Hour));
        var underB = Auc(b, t => CardFraudGenerator.FraudProbability(CardFraudRegime.B, t.Amount, t.MerchantCategory, t.IsOnline, t.Hour));

        Assert.True(underA < 0.45, $"A's rule should rank B's fraud worse than chance; AUC {underA}");
        Assert.True(underB > 0.7, $"B's own rule should rank B's fraud well; AUC {underB}");
        var a = Live(CardFraudRegime.A, 20_000);
        Assert.True(Auc(a, t => CardFraudGenerator.FraudProbability(CardFraudRegime.A, t.Amount, t.MerchantCategory, t.IsOnline, t.Hour)) > 0.7);
    }

    [Fact]
    public void The_fraud_rules_match_their_logits_at_hand_computed_points()
    {
        // A: -3 + 500/250 + 1.2 + 0.8 + 1.0 = 2.0 → σ(2) = 0.880797
        Assert.Equal(0.880797, CardFraudGenerator.FraudProbability(CardFraudRegime.A, 500, "online", true, 3), 6);
        // A: -3 + 0 → σ(-3) = 0.047426
        Assert.Equal(0.047426, CardFraudGenerator.FraudProbability(CardFraudRegime.A, 0, "grocery", false, 12), 6);
        // B: -2 + 1.8 + 1.2 - 900/900 + 0.6 = 0.6 → σ(0.6) = 0.645656
        Assert.Equal(0.645656, CardFraudGenerator.FraudProbability(CardFraudRegime.B, 900, "travel", false, 10), 6);
        // B: -2 - 1800/900 = -4 → σ(-4) = 0.017986
        Assert.Equal(0.017986, CardFraudGenerator.FraudProbability(CardFraudRegime.B, 1800, "grocery", true, 22), 6);
    }

    [Fact]
    public void Live_hours_follow_the_daily_traffic_profile()
    {
        var a = Live(CardFraudRegime.A, 48_000);
        var counts = a.GroupBy(t => t.Hour).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(24, CardFraudGenerator.HourlyTraffic.Count);
        Assert.Equal(24, CardFraudGenerator.HourlyTraffic.Sum(), 9);
        for (var hour = 0; hour < 24; hour++)
        {
            var expected = 48_000 * CardFraudGenerator.HourlyTraffic[hour] / 24;
            // Within 5 binomial standard deviations of the profile's share.
            Assert.InRange(counts.GetValueOrDefault(hour), expected - (5 * Math.Sqrt(expected)), expected + (5 * Math.Sqrt(expected)));
        }

        Assert.True(counts[12] > 6 * counts[3], "lunchtime should be far busier than the small hours");
    }

    [Fact]
    public void History_counts_each_hour_by_the_profile_and_stamps_rows_with_their_own_hour()
    {
        var generator = new CardFraudGenerator(5, Start.AddDays(30));
        var history = generator.History(Start, 7, 2_400).ToList();

        for (var hour = 0; hour < 24; hour++)
        {
            var perDay = (int)Math.Round(2_400 * CardFraudGenerator.HourlyTraffic[hour] / 24);
            Assert.Equal(7 * perDay, history.Count(t => t.Hour == hour));
        }

        Assert.InRange(history.Count, 7 * 2_400 - (7 * 12), 7 * 2_400 + (7 * 12));
        Assert.All(history, t => Assert.Equal(t.EventTime.UtcDateTime.Hour, t.Hour));
        Assert.All(history, t => Assert.InRange(t.EventTime, Start, Start.AddDays(7)));
        Assert.Equal(history.Select(t => t.EventTime).Order(), history.Select(t => t.EventTime));
        Assert.Equal(history.Count, history.Select(t => t.EventId).Distinct().Count());
    }

    [Fact]
    public void The_merchant_mix_moves_with_the_day_in_regime_A()
    {
        var a = Live(CardFraudRegime.A, 60_000);
        var evening = a.Where(t => t.Hour is >= 19 or < 6).ToList();
        var day = a.Where(t => t.Hour is >= 6 and < 19).ToList();

        Assert.InRange(Share(evening, t => t.MerchantCategory == "online"), 0.41, 0.49);
        Assert.InRange(Share(day, t => t.MerchantCategory == "online"), 0.17, 0.23);
        Assert.InRange(Share(day, t => t.MerchantCategory == "fuel"), 0.22, 0.28);
    }

    [Fact]
    public void Card_ids_come_from_the_pool_and_cover_it()
    {
        var generator = new CardFraudGenerator(3, Switch, cards: 200);
        var cards = Enumerable.Range(0, 20_000).Select(_ => generator.Next(Start).CardId).ToList();

        Assert.All(cards, id => Assert.Matches("^card-[0-9]{5}$", id));
        Assert.All(cards, id => Assert.InRange(int.Parse(id[5..], CultureInfo.InvariantCulture), 0, 199));
        Assert.Equal(200, cards.Distinct().Count());
        Assert.Throws<ArgumentOutOfRangeException>(() => new CardFraudGenerator(1, Switch, cards: 0));
    }

    [Fact]
    public void Csv_rows_are_well_formed_in_any_culture()
    {
        var previous = CultureInfo.CurrentCulture;
        try
        {
            // A culture with a decimal comma must not split amounts into two columns.
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            var generator = new CardFraudGenerator(9, Start.AddHours(12));
            var history = generator.History(Start, 1, 1_000).ToList();
            var lines = CardFraudGenerator.ToCsv(history).Split('\n');

            Assert.Equal(CardFraudGenerator.CsvHeader, lines[0]);
            Assert.Equal(string.Empty, lines[^1]);
            Assert.Equal(history.Count, lines.Length - 2);
            for (var i = 0; i < history.Count; i++)
            {
                var fields = lines[i + 1].Split(',');
                var t = history[i];
                Assert.Equal(8, fields.Length);
                Assert.Equal(t.EventId, fields[0]);
                Assert.Equal(t.EventTime, DateTimeOffset.Parse(fields[1], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind), TimeSpan.FromMilliseconds(1));
                Assert.EndsWith("Z", fields[1], StringComparison.Ordinal);
                Assert.Equal(t.CardId, fields[2]);
                Assert.Equal(t.Amount, double.Parse(fields[3], CultureInfo.InvariantCulture));
                Assert.Contains(fields[4], CardFraudGenerator.Categories);
                Assert.Equal(t.IsOnline ? "true" : "false", fields[5]);
                Assert.Equal(t.Hour, int.Parse(fields[6], CultureInfo.InvariantCulture));
                Assert.Equal(t.IsFraud ? "1" : "0", fields[7]);
            }
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void A_predict_instance_carries_the_card_and_every_feature()
    {
        var t = new CardTransaction("e1", Start, "card-00007", 12.5, "fuel", false, 7, false, CardFraudRegime.A);

        var instance = CardFraudGenerator.Instance(t);

        Assert.Equal("card-00007", instance["entity_id"]);
        Assert.Equal(12.5, instance["amount"]);
        Assert.Equal("fuel", instance["merchant_category"]);
        Assert.Equal(false, instance["is_online"]);
        Assert.Equal(7, instance["hour"]);
        Assert.Equal(5, instance.Count);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>The chance that a random fraud scores above a random honest transaction (ties count half).</summary>
    private static double Auc(IReadOnlyList<CardTransaction> transactions, Func<CardTransaction, double> score)
    {
        var ranked = transactions.Select(t => (Score: score(t), t.IsFraud)).OrderBy(x => x.Score).ToList();
        double rankSum = 0;
        var i = 0;
        while (i < ranked.Count)
        {
            var j = i;
            while (j < ranked.Count && ranked[j].Score == ranked[i].Score)
            {
                j++;
            }

            var averageRank = (i + j + 1) / 2.0;
            rankSum += averageRank * ranked.Skip(i).Take(j - i).Count(x => x.IsFraud);
            i = j;
        }

        var positives = ranked.Count(x => x.IsFraud);
        var negatives = ranked.Count - positives;
        return (rankSum - (positives * (positives + 1) / 2.0)) / ((double)positives * negatives);
    }
}
