using Flywheel.Core.Drift;
using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Drift;

/// <summary>Seeded data for drift tests: a reference profiled by <see cref="ProfileBuilder"/> and windows drawn like it or shifted.</summary>
internal static class DriftData
{
    public static readonly string[] Colours = ["red", "green", "blue", "yellow"];

    private static readonly double[] ColourShares = [0.4, 0.3, 0.2, 0.1];

    /// <summary>amount ~ N(0, 1), colour from four categories, flag true 30 %, email PII; all nullable.</summary>
    public static readonly ModelSchema Schema = new(
        "drift_test",
        ModelTask.Binary,
        [
            new("amount", FeatureType.Numeric, Nullable: true),
            new("colour", FeatureType.Categorical, Nullable: true),
            new("flag", FeatureType.Boolean, Nullable: true),
            new("email", FeatureType.Categorical, Nullable: true, Pii: true),
        ],
        new("label", FeatureType.Boolean));

    /// <summary>A standard normal draw (Box-Muller), so a seed gives the same values on every machine.</summary>
    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    public static string Colour(Random random, double[]? shares = null)
    {
        shares ??= ColourShares;
        var u = random.NextDouble();
        for (var i = 0; i < shares.Length; i++)
        {
            u -= shares[i];
            if (u < 0)
            {
                return Colours[i];
            }
        }

        return Colours[^1];
    }

    /// <summary>One row like the reference's, with the amount shifted by <paramref name="shift"/> standard deviations.</summary>
    public static Dictionary<string, object?> Row(Random random, double shift = 0, double[]? colourShares = null) => new()
    {
        ["amount"] = Gaussian(random) + shift,
        ["colour"] = Colour(random, colourShares),
        ["flag"] = random.NextDouble() < 0.3,
        ["email"] = "hmac-sha256:" + random.Next(1000),
    };

    /// <summary>Scores ~ N(0.3, 0.1), the "model's" output on the held-out rows.</summary>
    public static double Score(Random random, double shift = 0) => 0.3 + (0.1 * (Gaussian(random) + shift));

    public static ReferenceProfile Reference(int rows, int seed = 1)
    {
        var random = new Random(seed);
        var data = Enumerable.Range(0, rows).Select(_ => Row(random)).ToList();
        var scores = Enumerable.Range(0, rows).Select(_ => Score(random)).ToList();
        return ProfileBuilder.Build(Schema, data, scores);
    }

    public static DriftWindow Window(ReferenceProfile reference, int rows, int seed, double shift = 0, double[]? colourShares = null)
    {
        var random = new Random(seed);
        var window = new DriftWindow(Schema, reference);
        for (var i = 0; i < rows; i++)
        {
            window.Add(Row(random, shift, colourShares), Score(random, shift));
        }

        return window;
    }

    public static FeatureDrift Feature(DriftReport report, string name) => Assert.Single(report.Features, f => f.Name == name);
}
