using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Training;

/// <summary>
/// Encodes feature values the one way training, ML.NET scoring and the ONNX inputs all see them:
/// numbers and booleans as float (true 1, false 0, missing NaN), categories as text (missing as
/// empty text). <see cref="View"/> builds a <see cref="ColumnarDataView"/> with one column per
/// schema feature, named after it; a PII category's column holds its buckets
/// (<see cref="FeatureValues.PiiBucket"/>), so the model never sees the values.
/// </summary>
internal static class FeatureColumns
{
    public static ColumnarDataView View(ModelSchema schema, IReadOnlyList<TrainingRow> rows, DataColumn? label = null)
    {
        var columns = schema.Features.Select(f => Build(f, rows)).ToList();
        if (label is not null)
        {
            columns.Add(label);
        }

        return new ColumnarDataView(rows.Count, columns);
    }

    /// <summary>A numeric or boolean feature's value as a float.</summary>
    public static float Number(FeatureDefinition feature, IReadOnlyList<TrainingRow> rows, int index)
    {
        var value = Value(rows, index, feature);
        return (feature.Type, value) switch
        {
            (_, null) => float.NaN,
            (FeatureType.Boolean, bool flag) => flag ? 1f : 0f,
            (FeatureType.Numeric, double number) => (float)number,
            (FeatureType.Numeric, float number) => number,
            (FeatureType.Numeric, int number) => number,
            (FeatureType.Numeric, long number) => number,
            _ => throw Mismatch(feature, index, value),
        };
    }

    /// <summary>A categorical feature's value as given; empty when missing.</summary>
    public static string Category(FeatureDefinition feature, IReadOnlyList<TrainingRow> rows, int index) =>
        Value(rows, index, feature) switch
        {
            null => "",
            string text => text,
            var other => throw Mismatch(feature, index, other),
        };

    private static DataColumn Build(FeatureDefinition feature, IReadOnlyList<TrainingRow> rows)
    {
        if (feature.Type == FeatureType.Categorical)
        {
            var codes = new int[rows.Count];
            var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
            var bucketed = FeatureValues.IsBucketed(feature);
            for (var i = 0; i < rows.Count; i++)
            {
                var text = FeatureValues.ToText(Category(feature, rows, i), bucketed);
                codes[i] = text.Length == 0 ? -1
                    : vocabulary.TryGetValue(text, out var code) ? code
                    : vocabulary[text] = vocabulary.Count;
            }

            var texts = new ReadOnlyMemory<char>[vocabulary.Count];
            foreach (var (text, code) in vocabulary)
            {
                texts[code] = text.AsMemory();
            }

            return new TextColumn(feature.Name, codes, texts);
        }

        var values = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            values[i] = Number(feature, rows, i);
        }

        return new FloatColumn(feature.Name, values);
    }

    private static object? Value(IReadOnlyList<TrainingRow> rows, int index, FeatureDefinition feature) =>
        rows[index].Features.TryGetValue(feature.Name, out var value) ? value : null;

    private static TrainingException Mismatch(FeatureDefinition feature, int index, object value) =>
        new($"Row {index + 1}: the {feature.Type.ToString().ToLowerInvariant()} feature '{feature.Name}' holds a {value.GetType().Name} ({value}).");
}
