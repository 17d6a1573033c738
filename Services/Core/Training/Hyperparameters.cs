using System.Collections.Frozen;
using System.Globalization;

namespace Flywheel.Core.Training;

/// <summary>The trainers a run may use (the API names them lightgbm, fasttree and sdca).</summary>
public enum TrainerKind
{
    LightGbm,
    FastTree,
    Sdca,
}

/// <summary>
/// The hyperparameters each trainer accepts, by snake_case name (the names LightGBM users know),
/// with their defaults, the values a run may use, and the narrower region a random search samples.
/// Whole-number parameters (leaves, iterations, trees, minimum rows per leaf) must be whole; rates and
/// regularisation are continuous. Search ranges of scale parameters are sampled on a log scale, so
/// each decade of a range (0.01 to 0.1, 0.1 to 1) gets its share of trials.
/// </summary>
public static class Hyperparameters
{
    private sealed record Parameter(
        string Name, double Default, double Min, double Max, bool Whole, double SearchMin, double SearchMax, bool LogScale);

    private static readonly FrozenDictionary<TrainerKind, Parameter[]> Known = new Dictionary<TrainerKind, Parameter[]>
    {
        [TrainerKind.LightGbm] =
        [
            new("num_leaves", 31, 2, 1024, true, 8, 128, true),
            new("learning_rate", 0.1, 1e-4, 1, false, 0.01, 0.3, true),
            new("num_iterations", 100, 1, 10_000, true, 50, 500, true),
            new("min_data_in_leaf", 20, 1, 10_000, true, 5, 100, true),
            new("l2_regularization", 0.01, 0, 100, false, 1e-3, 10, true),
        ],
        [TrainerKind.FastTree] =
        [
            new("num_leaves", 20, 2, 1024, true, 8, 128, true),
            new("learning_rate", 0.2, 1e-4, 1, false, 0.01, 0.3, true),
            new("num_trees", 100, 1, 10_000, true, 50, 500, true),
            new("min_data_in_leaf", 10, 1, 10_000, true, 5, 100, true),
        ],
        [TrainerKind.Sdca] =
        [
            new("l2_regularization", 1e-4, 1e-8, 100, false, 1e-6, 1, true),
            new("l1_regularization", 0, 0, 100, false, 0, 0.1, false),
            new("max_iterations", 100, 1, 1000, true, 10, 200, true),
        ],
    }.ToFrozenDictionary();

    public static IReadOnlyDictionary<string, double> Defaults(TrainerKind trainer) =>
        For(trainer).ToDictionary(p => p.Name, p => p.Default, StringComparer.Ordinal);

    /// <summary>Every problem with <paramref name="values"/>, by parameter name; empty when all are known and in range.</summary>
    public static IReadOnlyDictionary<string, string[]> Validate(TrainerKind trainer, IReadOnlyDictionary<string, double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var known = For(trainer).ToDictionary(p => p.Name, StringComparer.Ordinal);
        var errors = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (!known.TryGetValue(name, out var parameter))
            {
                errors[name] = [$"is not a hyperparameter of {trainer}, which takes {string.Join(", ", known.Keys)}."];
                continue;
            }

            var messages = new List<string>();
            if (!double.IsFinite(value))
            {
                messages.Add("must be a finite number.");
            }
            else
            {
                if (value < parameter.Min || value > parameter.Max)
                {
                    messages.Add($"must be between {Text(parameter.Min)} and {Text(parameter.Max)}; {Text(value)} is not.");
                }

                if (parameter.Whole && value != Math.Floor(value))
                {
                    messages.Add($"must be a whole number; {Text(value)} is not.");
                }
            }

            if (messages.Count > 0)
            {
                errors[name] = [.. messages];
            }
        }

        return errors;
    }

    /// <summary>One random-search trial: every parameter drawn from its search range, the same trial for the same <paramref name="random"/> state.</summary>
    public static IReadOnlyDictionary<string, double> Sample(TrainerKind trainer, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var trial = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var parameter in For(trainer))
        {
            var u = random.NextDouble();
            var value = parameter.LogScale
                ? Math.Exp(Math.Log(parameter.SearchMin) + (u * (Math.Log(parameter.SearchMax) - Math.Log(parameter.SearchMin))))
                : parameter.SearchMin + (u * (parameter.SearchMax - parameter.SearchMin));
            trial[parameter.Name] = Math.Clamp(parameter.Whole ? Math.Round(value) : value, parameter.SearchMin, parameter.SearchMax);
        }

        return trial;
    }

    /// <summary>The defaults overlaid with <paramref name="given"/>; throws <see cref="ArgumentException"/> when a given value does not validate (call <see cref="Validate"/> first to report them).</summary>
    public static IReadOnlyDictionary<string, double> Resolve(TrainerKind trainer, IReadOnlyDictionary<string, double>? given)
    {
        var resolved = new Dictionary<string, double>(Defaults(trainer), StringComparer.Ordinal);
        if (given is null)
        {
            return resolved;
        }

        var errors = Validate(trainer, given);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid hyperparameters: " +
                string.Join(" ", errors.Select(e => $"{e.Key} {string.Join(" ", e.Value)}")));
        }

        foreach (var (name, value) in given)
        {
            resolved[name] = value;
        }

        return resolved;
    }

    private static Parameter[] For(TrainerKind trainer) =>
        Known.TryGetValue(trainer, out var parameters)
            ? parameters
            : throw new ArgumentOutOfRangeException(nameof(trainer), trainer, "Not a known trainer.");

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
