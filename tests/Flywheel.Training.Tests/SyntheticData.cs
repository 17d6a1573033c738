using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Training.Tests;

/// <summary>
/// Seeded card-transaction rows with a known signal: spend, merchant category, online and night-time
/// purchases raise the risk; older accounts lower it, and their age is missing on about one row in
/// seven. Every row has an event time a minute after the previous one, so splits are time-based.
/// </summary>
internal static class SyntheticData
{
    public static readonly string[] Categories = ["grocery", "fuel", "dining", "electronics", "travel"];
    private static readonly double[] CategoryEffect = [-1.0, -0.5, 0.0, 0.8, 1.5];

    public static ModelSchema Schema(ModelTask task) => new(
        "synthetic",
        task,
        [
            new("amount", FeatureType.Numeric, Min: 0),
            new("merchant_category", FeatureType.Categorical),
            new("is_online", FeatureType.Boolean),
            new("account_age_days", FeatureType.Numeric, Nullable: true),
            new("hour", FeatureType.Numeric, Min: 0, Max: 23),
        ],
        new TargetDefinition("label", task switch
        {
            ModelTask.Binary => FeatureType.Boolean,
            ModelTask.Multiclass => FeatureType.Categorical,
            _ => FeatureType.Numeric,
        }));

    public static List<TrainingRow> Rows(ModelTask task, int count = 3000, int seed = 1)
    {
        var random = new Random(seed);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var rows = new List<TrainingRow>(count);
        for (var i = 0; i < count; i++)
        {
            var amount = Math.Round(Math.Exp(2 + (3 * random.NextDouble())), 2);
            var category = random.Next(Categories.Length);
            var online = random.NextDouble() < 0.4;
            double? accountAge = random.NextDouble() < 0.15 ? null : random.Next(2000);
            var hour = random.Next(24);
            var risk = (0.03 * (amount - 40)) + CategoryEffect[category] + (online ? 0.8 : 0) +
                (hour < 6 ? 0.7 : 0) - (0.001 * ((accountAge ?? 1000) - 1000));
            object target = task switch
            {
                ModelTask.Binary => random.NextDouble() < 1 / (1 + Math.Exp(-risk)),
                ModelTask.Multiclass => (risk + Noise(random)) switch
                {
                    < -0.5 => "low",
                    < 1.0 => "medium",
                    _ => "high",
                },
                _ => 10 + (3 * risk) + Noise(random),
            };
            var features = new Dictionary<string, object?>
            {
                ["amount"] = amount,
                ["merchant_category"] = Categories[category],
                ["is_online"] = online,
                ["account_age_days"] = accountAge,
                ["hour"] = (double)hour,
            };
            rows.Add(new TrainingRow(start.AddMinutes(i), features, target));
        }

        return rows;
    }

    /// <summary>Copies of <paramref name="rows"/> with one feature set to <paramref name="value"/>.</summary>
    public static List<TrainingRow> With(IEnumerable<TrainingRow> rows, string feature, object? value) =>
        [.. rows.Select(r => r with { Features = new Dictionary<string, object?>(r.Features) { [feature] = value } })];

    private static double Noise(Random random) => random.NextDouble() - 0.5;
}
