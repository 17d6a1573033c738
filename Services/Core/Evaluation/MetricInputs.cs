namespace Flywheel.Core.Evaluation;

/// <summary>
/// The checks every metric makes on its inputs, so a held-out set and a live window are refused
/// for the same reasons with the same messages.
/// </summary>
internal static class MetricInputs
{
    /// <summary>
    /// Log-loss clips probabilities to [Epsilon, 1 - Epsilon] so one confident mistake costs
    /// about 34.5 instead of infinity and the mean stays finite (the bound scikit-learn used).
    /// </summary>
    public const double Epsilon = 1e-15;

    public static double Clip(double probability) => Math.Clamp(probability, Epsilon, 1 - Epsilon);

    public static void RequireRows<TLeft, TRight>(IReadOnlyList<TLeft> left, IReadOnlyList<TRight> right, string leftName, string rightName)
    {
        ArgumentNullException.ThrowIfNull(left, leftName);
        ArgumentNullException.ThrowIfNull(right, rightName);
        if (left.Count != right.Count)
        {
            throw new ArgumentException($"{leftName} and {rightName} must have the same length ({left.Count} and {right.Count}).", rightName);
        }

        if (left.Count == 0)
        {
            throw new ArgumentException("At least one row is needed to compute metrics.", leftName);
        }
    }

    public static void RequireProbability(double value, string name, string position)
    {
        if (!double.IsFinite(value) || value < 0 || value > 1)
        {
            throw new ArgumentException($"{name}{position} is {value}; probabilities must be finite numbers in [0, 1].", name);
        }
    }

    public static void RequireFinite(double value, string name, int index)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentException($"{name}[{index}] is {value}; values must be finite numbers.", name);
        }
    }
}
