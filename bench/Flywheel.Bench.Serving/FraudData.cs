using System.Globalization;
using System.Text;
using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Bench.Serving;

/// <summary>The card-fraud-like data the tests use: fraud driven by amount, category, channel and night hours.</summary>
internal static class FraudData
{
    private static readonly string[] Categories = ["grocery", "travel", "online", "fuel"];

    public static string ModelJson(string name) => $$"""
        { "name": "{{name}}", "task": "binary", "entity_key": "card_id",
          "features": [ { "name": "amount", "type": "numeric", "min": 0 },
                        { "name": "merchant_category", "type": "categorical", "categories": ["grocery", "travel", "online", "fuel"] },
                        { "name": "is_online", "type": "boolean" },
                        { "name": "hour", "type": "numeric", "nullable": true, "min": 0, "max": 23 } ],
          "target": { "name": "is_fraud", "type": "boolean" } }
        """;

    public static ModelSchema Schema(string name) => new(
        name,
        ModelTask.Binary,
        [
            new FeatureDefinition("amount", FeatureType.Numeric, Min: 0),
            new FeatureDefinition("merchant_category", FeatureType.Categorical, Categories: Categories),
            new FeatureDefinition("is_online", FeatureType.Boolean),
            new FeatureDefinition("hour", FeatureType.Numeric, Nullable: true, Min: 0, Max: 23),
        ],
        new TargetDefinition("is_fraud", FeatureType.Boolean),
        "card_id");

    public static List<TrainingRow> Rows(int count, int seed)
    {
        var random = new Random(seed);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var rows = new List<TrainingRow>(count);
        for (var i = 0; i < count; i++)
        {
            var amount = Math.Round(random.NextDouble() * random.NextDouble() * 900, 2);
            var category = Categories[random.Next(Categories.Length)];
            var online = random.NextDouble() < 0.4;
            double? hour = random.NextDouble() < 0.05 ? null : random.Next(24);
            var logit = -3.0 + (amount / 250) + (category == "online" ? 1.2 : 0) + (online ? 0.8 : 0) + (hour is < 5 ? 1.0 : 0);
            var fraud = random.NextDouble() < 1 / (1 + Math.Exp(-logit));
            rows.Add(new TrainingRow(start.AddHours(i), new Dictionary<string, object?>
            {
                ["amount"] = amount,
                ["merchant_category"] = category,
                ["is_online"] = online,
                ["hour"] = hour,
            }, fraud));
        }

        return rows;
    }

    public static string Csv(IReadOnlyList<TrainingRow> rows)
    {
        var csv = new StringBuilder("event_id,event_time,entity_id,amount,merchant_category,is_online,hour,is_fraud\n");
        for (var i = 0; i < rows.Count; i++)
        {
            var f = rows[i].Features;
            csv.Append(CultureInfo.InvariantCulture,
                $"b-{i},{rows[i].EventTime:O},card-{i % 500},{f["amount"]},{f["merchant_category"]},{((bool)f["is_online"]! ? "true" : "false")},{f["hour"]},{((bool)rows[i].Target! ? 1 : 0)}\n");
        }

        return csv.ToString();
    }

    public static byte[] RequestBody(TrainingRow row) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        instances = new[] { row.Features },
    });
}
