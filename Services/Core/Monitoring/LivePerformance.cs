using Flywheel.Core.Evaluation;

namespace Flywheel.Core.Monitoring;

/// <summary>
/// A deployed version's performance on the live predictions whose labels came back, each metric
/// with a confidence interval, and whether it has fallen below what the version showed at training.
/// Point values come from <see cref="BinaryMetrics"/>, <see cref="MulticlassMetrics"/> and
/// <see cref="RegressionMetrics"/>, so live and training numbers are computed the same way.
/// </summary>
public static class LivePerformance
{
    /// <summary>
    /// Below this many labelled rows no interval is given: the normal approximations behind Wilson
    /// and DeLong, and the bootstrap's picture of the sampling distribution, are not trustworthy on
    /// fewer, and an interval that looks precise but is not would trigger retraining on noise.
    /// </summary>
    public const int MinimumLabelledRows = 30;

    /// <summary>DeLong's variance averages over each class; with fewer rows of a class than this it is mostly noise.</summary>
    public const int MinimumRowsPerClassForAuc = 10;

    /// <summary>The bootstrap seed unless the caller gives one; any fixed value would do.</summary>
    public const int DefaultSeed = 20_050_101;

    /// <summary>
    /// AUC (DeLong interval; see <see cref="ConfidenceIntervals.DeLongAuc"/>) when both classes are
    /// present, accuracy (Wilson interval) and F1 (percentile bootstrap), the primary metric first:
    /// AUC when it exists, else accuracy. No rows give no estimates.
    /// </summary>
    /// <param name="labels">True for the positive class.</param>
    /// <param name="scores">Predicted probability of the positive class, in [0, 1].</param>
    /// <param name="threshold">Score at or above which a row is predicted positive, for accuracy and F1.</param>
    /// <exception cref="ArgumentException">The lists differ in length, a score is outside [0, 1], or the confidence is outside (0, 1).</exception>
    public static IReadOnlyList<PerformanceEstimate> Binary(
        IReadOnlyList<bool> labels, IReadOnlyList<double> scores, double threshold = 0.5, double confidence = 0.95, int seed = DefaultSeed)
    {
        var z = ConfidenceIntervals.TwoSidedZ(confidence);
        if (IsEmpty(labels, scores))
        {
            return [];
        }

        var metrics = BinaryMetrics.Compute(labels, scores, threshold);
        var rows = (int)metrics.Rows;
        var enough = rows >= MinimumLabelledRows;
        var estimates = new List<PerformanceEstimate>(3);

        if (!double.IsNaN(metrics.Auc))
        {
            var negatives = metrics.Rows - metrics.Positives;
            Interval? auc = null;
            if (enough && metrics.Positives >= MinimumRowsPerClassForAuc && negatives >= MinimumRowsPerClassForAuc)
            {
                var (_, variance) = ConfidenceIntervals.DeLongAuc(labels, scores);
                var half = z * Math.Sqrt(variance);
                auc = new(Math.Max(0, metrics.Auc - half), Math.Min(1, metrics.Auc + half));
            }

            estimates.Add(Estimate("auc", metrics.Auc, auc, rows, confidence));
        }

        // Each row reduced to its confusion cell, so a resample only counts cells.
        var cells = new byte[rows];
        long correct = 0;
        for (var i = 0; i < rows; i++)
        {
            cells[i] = (byte)((labels[i] ? 2 : 0) + (scores[i] >= threshold ? 1 : 0));
            correct += cells[i] is 0 or 3 ? 1 : 0;
        }

        estimates.Add(Estimate("accuracy", metrics.Accuracy, enough ? ConfidenceIntervals.Wilson(correct, rows, confidence) : null, rows, confidence));
        Interval? f1 = enough ? Bootstrap.Percentiles(rows, seed, confidence, indexes => F1(cells, indexes))[0] : null;
        estimates.Add(Estimate("f1", metrics.F1, f1, rows, confidence));
        return estimates;
    }

    /// <summary>Accuracy (Wilson interval) first, then macro-F1 (percentile bootstrap) as <see cref="MulticlassMetrics"/> averages it. No rows give no estimates.</summary>
    /// <param name="labels">The true class of each row.</param>
    /// <param name="predicted">The class the model predicted for it; compared ordinally.</param>
    /// <exception cref="ArgumentException">The lists differ in length, a class is null, or the confidence is outside (0, 1).</exception>
    public static IReadOnlyList<PerformanceEstimate> Multiclass(
        IReadOnlyList<string> labels, IReadOnlyList<string> predicted, double confidence = 0.95, int seed = DefaultSeed)
    {
        ConfidenceIntervals.TwoSidedZ(confidence);
        if (IsEmpty(labels, predicted))
        {
            return [];
        }

        var classes = new Dictionary<string, int>(StringComparer.Ordinal);
        var rows = labels.Count;
        var labelIndexes = new int[rows];
        var predictedIndexes = new int[rows];
        long correct = 0;
        for (var i = 0; i < rows; i++)
        {
            labelIndexes[i] = ClassIndex(classes, labels[i], nameof(labels), i);
            predictedIndexes[i] = ClassIndex(classes, predicted[i], nameof(predicted), i);
            correct += labelIndexes[i] == predictedIndexes[i] ? 1 : 0;
        }

        var all = Enumerable.Range(0, rows).ToArray();
        var macroF1 = MacroF1(labelIndexes, predictedIndexes, classes.Count, all);
        var enough = rows >= MinimumLabelledRows;
        Interval? macroF1Interval = enough
            ? Bootstrap.Percentiles(rows, seed, confidence, indexes => MacroF1(labelIndexes, predictedIndexes, classes.Count, indexes))[0]
            : null;

        return
        [
            Estimate("accuracy", (double)correct / rows, enough ? ConfidenceIntervals.Wilson(correct, rows, confidence) : null, rows, confidence),
            Estimate("macro_f1", macroF1, macroF1Interval, rows, confidence),
        ];
    }

    /// <summary>RMSE first, then MAE, both with percentile bootstrap intervals over the same resamples. No rows give no estimates.</summary>
    /// <exception cref="ArgumentException">The lists differ in length, a value is not finite, or the confidence is outside (0, 1).</exception>
    public static IReadOnlyList<PerformanceEstimate> Regression(
        IReadOnlyList<double> labels, IReadOnlyList<double> predicted, double confidence = 0.95, int seed = DefaultSeed)
    {
        ConfidenceIntervals.TwoSidedZ(confidence);
        if (IsEmpty(labels, predicted))
        {
            return [];
        }

        var metrics = RegressionMetrics.Compute(labels, predicted);
        var rows = (int)metrics.Rows;
        Interval? rmse = null, mae = null;
        if (rows >= MinimumLabelledRows)
        {
            var squaredErrors = new double[rows];
            var absoluteErrors = new double[rows];
            for (var i = 0; i < rows; i++)
            {
                var error = labels[i] - predicted[i];
                squaredErrors[i] = error * error;
                absoluteErrors[i] = Math.Abs(error);
            }

            var intervals = Bootstrap.Percentiles(
                rows,
                seed,
                confidence,
                indexes => Math.Sqrt(MeanOver(indexes, squaredErrors)),
                indexes => MeanOver(indexes, absoluteErrors));
            (rmse, mae) = (intervals[0], intervals[1]);
        }

        return [Estimate("rmse", metrics.Rmse, rmse, rows, confidence), Estimate("mae", metrics.Mae, mae, rows, confidence)];
    }

    /// <summary>
    /// True when the live metric is worse than at training beyond doubt and beyond tolerance: its
    /// whole interval lies below <c>trainingValue - tolerance</c> (above <c>trainingValue +
    /// tolerance</c> for error metrics such as RMSE). Without an interval (too few labelled rows)
    /// nothing is proven, so false.
    /// </summary>
    /// <param name="tolerance">How much worse than at training is still acceptable, in the metric's units; 0 or more.</param>
    /// <param name="higherIsBetter">True for AUC, accuracy and F1; false for RMSE and MAE.</param>
    /// <exception cref="ArgumentOutOfRangeException">The training value is not finite or the tolerance is negative or not finite.</exception>
    public static bool IsDegraded(PerformanceEstimate live, double trainingValue, double tolerance, bool higherIsBetter)
    {
        ArgumentNullException.ThrowIfNull(live);
        if (!double.IsFinite(trainingValue))
        {
            throw new ArgumentOutOfRangeException(nameof(trainingValue), trainingValue, "The training metric must be a finite number.");
        }

        if (!double.IsFinite(tolerance) || tolerance < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be a finite number, 0 or more.");
        }

        if (live.CiLow is not { } low || live.CiHigh is not { } high)
        {
            return false;
        }

        return higherIsBetter ? high < trainingValue - tolerance : low > trainingValue + tolerance;
    }

    private static PerformanceEstimate Estimate(string metric, double value, Interval? interval, int rows, double confidence) =>
        new(metric, value, interval?.Low, interval?.High, rows, confidence);

    private static bool IsEmpty<TLeft, TRight>(IReadOnlyList<TLeft> left, IReadOnlyList<TRight> right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return left.Count == 0 && right.Count == 0;
    }

    private static int ClassIndex(Dictionary<string, int> classes, string? value, string name, int row)
    {
        if (value is null)
        {
            throw new ArgumentException($"{name}[{row}] is null; every row needs a class.", name);
        }

        if (!classes.TryGetValue(value, out var index))
        {
            index = classes.Count;
            classes[value] = index;
        }

        return index;
    }

    private static double MeanOver(int[] indexes, double[] values)
    {
        double sum = 0;
        foreach (var i in indexes)
        {
            sum += values[i];
        }

        return sum / indexes.Length;
    }

    /// <summary>Cells: bit 1 = actually positive, bit 0 = predicted positive. F1 = 2TP / (2TP + FP + FN), 0 when nothing is positive.</summary>
    private static double F1(byte[] cells, int[] indexes)
    {
        long truePositives = 0, falsePositives = 0, falseNegatives = 0;
        foreach (var i in indexes)
        {
            switch (cells[i])
            {
                case 3: truePositives++; break;
                case 1: falsePositives++; break;
                case 2: falseNegatives++; break;
            }
        }

        var denominator = (2 * truePositives) + falsePositives + falseNegatives;
        return denominator == 0 ? 0 : 2.0 * truePositives / denominator;
    }

    /// <summary>Mean one-vs-rest F1 over the classes occurring in these rows' labels or predictions, as <see cref="MulticlassMetrics"/> averages.</summary>
    private static double MacroF1(int[] labels, int[] predicted, int classes, int[] indexes)
    {
        var support = new long[classes];
        var predictedCounts = new long[classes];
        var truePositives = new long[classes];
        foreach (var i in indexes)
        {
            support[labels[i]]++;
            predictedCounts[predicted[i]]++;
            truePositives[labels[i]] += labels[i] == predicted[i] ? 1 : 0;
        }

        double sum = 0;
        var averaged = 0;
        for (var c = 0; c < classes; c++)
        {
            var denominator = support[c] + predictedCounts[c];
            if (denominator > 0)
            {
                sum += 2.0 * truePositives[c] / denominator;
                averaged++;
            }
        }

        return sum / averaged;
    }
}
