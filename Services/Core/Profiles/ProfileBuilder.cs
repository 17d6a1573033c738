using Flywheel.Core.Schema;

namespace Flywheel.Core.Profiles;

/// <summary>
/// Builds a version's <see cref="ReferenceProfile"/> from its training rows and its scores, in one
/// pass over the rows. Rows carry typed values as <see cref="RowValidator"/> yields them: a double
/// for a numeric feature, a string for a categorical one, a bool for a boolean one, and null (or
/// no entry) when missing; other entries, such as the target, are ignored.
/// </summary>
public static class ProfileBuilder
{
    /// <summary>Categories kept per feature; rarer ones are only counted, in <see cref="CategoricalProfile.OtherCount"/>.</summary>
    public const int MaxCategories = 100;

    /// <param name="schema">The model's schema; one feature profile per schema feature, in its order.</param>
    /// <param name="featureRows">The training rows.</param>
    /// <param name="predictionScores">
    /// The model's scores to profile as <see cref="ReferenceProfile.Prediction"/> (for example the
    /// positive-class probability on the held-out rows); they need not be one per training row.
    /// </param>
    /// <param name="bins">Most histogram bins per numeric feature and for the scores.</param>
    /// <exception cref="ArgumentException">A value has the wrong type for its feature, or a number is not finite.</exception>
    public static ReferenceProfile Build(
        ModelSchema schema,
        IEnumerable<IReadOnlyDictionary<string, object?>> featureRows,
        IReadOnlyList<double> predictionScores,
        int bins = 10)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(featureRows);
        ArgumentNullException.ThrowIfNull(predictionScores);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);

        var columns = schema.Features.Select(f => new Column(f)).ToArray();
        long rows = 0;
        foreach (var row in featureRows)
        {
            ArgumentNullException.ThrowIfNull(row, nameof(featureRows));
            foreach (var column in columns)
            {
                column.Add(row.TryGetValue(column.Feature.Name, out var value) ? value : null, rows);
            }

            rows++;
        }

        var scores = new double[predictionScores.Count];
        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = RequireFinite(predictionScores[i], $"Prediction score {i}");
        }

        Array.Sort(scores);
        return new(rows, [.. columns.Select(c => c.Profile(rows, bins))], NumericProfile.OfSorted(scores, bins));
    }

    private static double RequireFinite(double value, string what) =>
        double.IsFinite(value) ? value : throw new ArgumentException($"{what} is {value}; profiled numbers must be finite.");

    /// <summary>One feature's values gathered across the rows: numbers to sort, or category counts.</summary>
    private sealed class Column(FeatureDefinition feature)
    {
        private readonly List<double> _numbers = [];
        private readonly Dictionary<string, long> _categories = new(StringComparer.Ordinal);
        private long _missing;

        public FeatureDefinition Feature { get; } = feature;

        public void Add(object? value, long row)
        {
            switch (Feature.Type, value)
            {
                case (_, null):
                    _missing++;
                    break;
                case (FeatureType.Numeric, double number):
                    _numbers.Add(RequireFinite(number, $"Feature '{Feature.Name}' in row {row} (counting from 0)"));
                    break;
                case (FeatureType.Categorical, string category):
                    _categories[category] = _categories.GetValueOrDefault(category) + 1;
                    break;
                case (FeatureType.Boolean, bool flag):
                    var name = flag ? "true" : "false";
                    _categories[name] = _categories.GetValueOrDefault(name) + 1;
                    break;
                default:
                    throw new ArgumentException(
                        $"Feature '{Feature.Name}' in row {row} (counting from 0) is a {value.GetType().Name}; a {Feature.Type} feature takes {Expected(Feature.Type)} or null.");
            }
        }

        public FeatureProfile Profile(long rows, int bins)
        {
            var count = rows - _missing;
            var missingRate = rows == 0 ? 0 : (double)_missing / rows;
            if (Feature.Pii)
            {
                return new(Feature.Name, Feature.Type, count, _missing, missingRate, null, null);
            }

            if (Feature.Type == FeatureType.Numeric)
            {
                var sorted = _numbers.ToArray();
                Array.Sort(sorted);
                return new(Feature.Name, Feature.Type, count, _missing, missingRate, NumericProfile.OfSorted(sorted, bins), null);
            }

            var ranked = _categories
                .OrderByDescending(c => c.Value)
                .ThenBy(c => c.Key, StringComparer.Ordinal)
                .ToList();
            var top = ranked
                .Take(MaxCategories)
                .Select(c => new CategoryFrequency(c.Key, c.Value, (double)c.Value / count))
                .ToList();
            var other = ranked.Skip(MaxCategories).Sum(c => c.Value);
            return new(Feature.Name, Feature.Type, count, _missing, missingRate, null, new CategoricalProfile(count, top, other));
        }

        private static string Expected(FeatureType type) => type switch
        {
            FeatureType.Numeric => "a double",
            FeatureType.Categorical => "a string",
            _ => "a bool",
        };
    }
}
