using System.Globalization;
using Flywheel.Core.Schema;

namespace Flywheel.Training;

/// <summary>
/// The training label for a task: a boolean column for binary models, a key column over the sorted
/// distinct classes for multiclass ones, a float column for regression. <see cref="Classes"/> names
/// the classes in output order: for binary models the negative class, then the positive one.
/// </summary>
internal sealed record Target(DataColumn Column, IReadOnlyList<string> Classes)
{
    public const string LabelColumn = "Label";

    /// <summary>Beyond this a multiclass model is almost surely a mistyped regression, and would train one tree ensemble per class.</summary>
    public const int MaxClasses = 1000;

    public static Target Encode(ModelTask task, IReadOnlyList<TrainingRow> rows)
    {
        var missing = rows.Count(r => r.Target is null);
        if (missing > 0)
        {
            throw new TrainingException($"{missing} of the {rows.Count} training rows have no target value; only labelled rows can be trained on.");
        }

        return task switch
        {
            ModelTask.Binary => Binary(rows),
            ModelTask.Multiclass => Multiclass(rows),
            _ => Regression(rows),
        };
    }

    private static Target Binary(IReadOnlyList<TrainingRow> rows)
    {
        string[] classes;
        Func<object, bool> positive;
        if (rows.All(r => r.Target is bool))
        {
            classes = ["false", "true"];
            positive = target => (bool)target;
        }
        else if (rows.All(r => Number(r.Target) is 0d or 1d))
        {
            classes = ["0", "1"];
            positive = target => Number(target) == 1;
        }
        else if (rows.All(r => r.Target is string))
        {
            classes = [.. rows.Select(r => (string)r.Target!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            if (classes.Length > 2)
            {
                throw new TrainingException(
                    $"A binary model needs a target with two classes; this one has {classes.Length} ({Some(classes)}). Train a multiclass model instead.");
            }

            var positiveClass = classes[^1];
            positive = target => (string)target == positiveClass;
        }
        else
        {
            throw new TrainingException(
                $"A binary model needs a boolean target, a numeric one that is 0 or 1, or a categorical one with two classes; this one holds {Kinds(rows)}.");
        }

        var labels = rows.Select(r => positive(r.Target!)).ToArray();
        var firstClass = classes.Length == 1 ? classes[0] : classes[labels[0] ? 1 : 0];
        RequireTwoClasses(labels.Distinct().Count(), firstClass);
        return new Target(new BooleanColumn(LabelColumn, labels), classes);
    }

    private static Target Multiclass(IReadOnlyList<TrainingRow> rows)
    {
        string[] classes;
        string[] names;
        if (rows.All(r => r.Target is string))
        {
            names = [.. rows.Select(r => (string)r.Target!)];
            classes = [.. names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        }
        else if (rows.All(r => Number(r.Target) is not null))
        {
            // Numeric classes sort by value (2 before 10), then take their invariant round-trip names.
            var values = rows.Select(r => Number(r.Target)!.Value).ToArray();
            classes = [.. values.Distinct().Order().Select(Name)];
            names = [.. values.Select(Name)];
        }
        else
        {
            throw new TrainingException(
                $"A multiclass model needs a categorical or numeric target; this one holds {Kinds(rows)}. A boolean target is for a binary model.");
        }

        RequireTwoClasses(classes.Length, classes[0]);
        if (classes.Length > MaxClasses)
        {
            throw new TrainingException(
                $"The target has {classes.Length} distinct values; a multiclass model takes at most {MaxClasses} classes. Is it a regression target?");
        }

        var keyOf = classes.Select((name, index) => (name, key: (uint)index + 1)).ToDictionary(c => c.name, c => c.key, StringComparer.Ordinal);
        return new Target(new KeyColumn(LabelColumn, [.. names.Select(n => keyOf[n])], classes), classes);
    }

    private static Target Regression(IReadOnlyList<TrainingRow> rows)
    {
        var values = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            if (Number(rows[i].Target) is not { } value || !double.IsFinite(value))
            {
                throw new TrainingException($"A regression model needs a finite numeric target; row {i + 1} holds {Describe(rows[i].Target!)}.");
            }

            values[i] = (float)value;
        }

        return new Target(new FloatColumn(LabelColumn, values), []);
    }

    private static void RequireTwoClasses(int count, string only)
    {
        if (count < 2)
        {
            throw new TrainingException($"The training set has only one class ('{only}'); a classifier needs at least two.");
        }
    }

    private static double? Number(object? value) => value switch
    {
        double number => number,
        float number => number,
        int number => number,
        long number => number,
        _ => null,
    };

    private static string Name(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Describe(object value) => $"{value.GetType().Name} {value}";

    private static string Kinds(IReadOnlyList<TrainingRow> rows) =>
        string.Join(", ", rows.Select(r => r.Target!.GetType().Name).Distinct().Order(StringComparer.Ordinal)) + " values";

    private static string Some(IEnumerable<string> classes) => string.Join(", ", classes.Take(5).Select(c => $"'{c}'"));
}
