using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Drift;

/// <summary>
/// Accumulates one window of logged predictions against one reference profile, for
/// <see cref="DriftEvaluator"/>. Rows carry typed values as <see cref="ProfileBuilder"/> takes them:
/// a double for a numeric feature, a string for a categorical one, a bool for a boolean one, null
/// (or no entry) when missing; a PII feature's value, already hashed, only counts as present.
/// Not thread-safe: one window per evaluation.
/// </summary>
/// <remarks>
/// Numeric values are kept, 8 bytes each, in a growable buffer per feature and sorted once when the
/// window is evaluated: a small window's KS test needs them all, and a large window's Wasserstein
/// distance needs its quantile function, which a fixed-size sketch would only approximate. A
/// million rows of 35 numeric features hold 280 MB; the bench (docs/benchmarks.md) measures the
/// cost. Categories are only counted, into the reference's categories plus "other".
/// </remarks>
public sealed class DriftWindow
{
    private readonly FeatureWindow[] _features;
    private readonly NumericWindow? _scores;
    private readonly object?[] _row;

    /// <exception cref="ArgumentException">The profile does not describe the schema's features, in order and by type.</exception>
    public DriftWindow(ModelSchema schema, ReferenceProfile reference)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Features.Count != schema.Features.Count)
        {
            throw new ArgumentException($"The reference profiles {reference.Features.Count} features; the schema has {schema.Features.Count}.", nameof(reference));
        }

        _features = new FeatureWindow[schema.Features.Count];
        for (var i = 0; i < _features.Length; i++)
        {
            var feature = schema.Features[i];
            var profile = reference.Features[i];
            if (profile.Name != feature.Name || profile.Type != feature.Type)
            {
                throw new ArgumentException(
                    $"Reference feature {i} is '{profile.Name}' ({profile.Type}); the schema's is '{feature.Name}' ({feature.Type}).", nameof(reference));
            }

            _features[i] = new FeatureWindow(feature, profile);
        }

        _row = new object?[_features.Length];
        Schema = schema;
        Reference = reference;
        _scores = reference.Prediction.Count > 0 ? new NumericWindow(reference.Prediction) : null;
    }

    public ModelSchema Schema { get; }

    public ReferenceProfile Reference { get; }

    /// <summary>Predictions added.</summary>
    public long Rows { get; private set; }

    /// <summary>Scores added (predictions with a score).</summary>
    public long Scores { get; private set; }

    internal IReadOnlyList<FeatureWindow> Features => _features;

    internal NumericWindow? ScoreWindow => _scores;

    /// <summary>Adds one logged prediction: its served feature values and its score (null when it has none).</summary>
    /// <exception cref="ArgumentException">A value has the wrong type for its feature, or a number is not finite.</exception>
    public void Add(IReadOnlyDictionary<string, object?> features, double? score)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (score is { } s && !double.IsFinite(s))
        {
            throw new ArgumentException($"The score is {s}; scores must be finite.", nameof(score));
        }

        // Checked before anything is counted, so a bad row leaves the window as it was.
        for (var i = 0; i < _features.Length; i++)
        {
            var value = features.TryGetValue(_features[i].Definition.Name, out var found) ? found : null;
            _features[i].Check(value);
            _row[i] = value;
        }

        for (var i = 0; i < _features.Length; i++)
        {
            _features[i].Add(_row[i]);
        }

        Array.Clear(_row);

        if (score is { } present)
        {
            _scores?.Add(present);
            Scores++;
        }

        Rows++;
    }

    /// <summary>One feature's counts in the window.</summary>
    internal sealed class FeatureWindow
    {
        private readonly Dictionary<string, int>? _categoryIndex;

        public FeatureWindow(FeatureDefinition definition, FeatureProfile profile)
        {
            Definition = definition;
            Profile = profile;
            if (definition.Pii)
            {
                return;
            }

            if (profile.Numeric is { } numeric)
            {
                Numeric = new NumericWindow(numeric);
            }
            else if (profile.Categorical is { } categorical)
            {
                _categoryIndex = new Dictionary<string, int>(categorical.Categories.Count, StringComparer.Ordinal);
                for (var i = 0; i < categorical.Categories.Count; i++)
                {
                    _categoryIndex[categorical.Categories[i].Value] = i;
                }

                // One count per reference category, then "other".
                CategoryCounts = new long[categorical.Categories.Count + 1];
            }
        }

        public FeatureDefinition Definition { get; }

        public FeatureProfile Profile { get; }

        public long Missing { get; private set; }

        public long Present { get; private set; }

        public NumericWindow? Numeric { get; }

        public long[]? CategoryCounts { get; }

        public void Check(object? value)
        {
            var ok = (Definition.Type, value) switch
            {
                (_, null) => true,
                _ when Definition.Pii => true,
                (FeatureType.Numeric, double number) => double.IsFinite(number),
                (FeatureType.Categorical, string) => true,
                (FeatureType.Boolean, bool) => true,
                _ => false,
            };
            if (!ok)
            {
                throw new ArgumentException(value is double bad
                    ? $"Feature '{Definition.Name}' is {bad}; numbers must be finite."
                    : $"Feature '{Definition.Name}' is a {value!.GetType().Name}; a {Definition.Type} feature takes {Expected(Definition.Type)} or null.");
            }
        }

        public void Add(object? value)
        {
            if (value is null)
            {
                Missing++;
                return;
            }

            Present++;
            switch (value)
            {
                case double number:
                    Numeric?.Add(number);
                    break;
                case string category when CategoryCounts is not null:
                    CategoryCounts[_categoryIndex!.TryGetValue(category, out var index) ? index : CategoryCounts.Length - 1]++;
                    break;
                case bool flag when CategoryCounts is not null:
                    CategoryCounts[_categoryIndex!.TryGetValue(flag ? "true" : "false", out var at) ? at : CategoryCounts.Length - 1]++;
                    break;
                default:
                    break;
            }
        }

        private static string Expected(FeatureType type) => type switch
        {
            FeatureType.Numeric => "a double",
            FeatureType.Categorical => "a string",
            _ => "a bool",
        };
    }

    /// <summary>A numeric feature's (or the scores') values, their counts in the reference's bins, and how many fell outside its range.</summary>
    internal sealed class NumericWindow(NumericProfile reference)
    {
        private double[] _values = new double[256];

        public NumericProfile Reference { get; } = reference;

        public int Count { get; private set; }

        /// <summary>Counts per reference bin; empty when the reference has no values (and so no bins).</summary>
        public long[] BinCounts { get; } = new long[reference.Histogram.Counts.Count];

        public long OutOfRange { get; private set; }

        public void Add(double value)
        {
            if (Count == _values.Length)
            {
                // Array.MaxLength caps a window at about 2.1 billion values per feature.
                Array.Resize(ref _values, (int)Math.Min((long)_values.Length * 2, Array.MaxLength));
            }

            _values[Count++] = value;
            if (BinCounts.Length > 0)
            {
                BinCounts[Reference.Histogram.BinOf(value)]++;
                if (value < Reference.Min || value > Reference.Max)
                {
                    OutOfRange++;
                }
            }
        }

        /// <summary>The values in ascending order, sorted in place (their order in the window carries no meaning).</summary>
        public ReadOnlySpan<double> Sorted()
        {
            var values = _values.AsSpan(0, Count);
            values.Sort();
            return values;
        }
    }
}
