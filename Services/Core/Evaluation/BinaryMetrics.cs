namespace Flywheel.Core.Evaluation;

/// <summary>
/// One equal-width probability bin of a reliability diagram: the rows whose predicted probability
/// fell in [<see cref="Lower"/>, <see cref="Upper"/>) (the last bin also holds 1), their mean
/// prediction and the share of them that were positive.
/// </summary>
public sealed record CalibrationBin(double Lower, double Upper, long Count, double MeanPredicted, double ObservedRate);

/// <summary>
/// How well a binary classifier's probabilities rank, separate and are calibrated on labelled
/// rows: a held-out set at training time, or a window of live predictions whose labels came back.
/// A row is predicted positive when its probability is at or above <see cref="Threshold"/>.
/// </summary>
/// <param name="Auc">
/// ROC AUC: the chance that a random positive scores above a random negative, a tie counting as
/// half (Mann-Whitney U over average ranks). NaN when the rows hold only one class, because no
/// ordering of positives against negatives exists; <see cref="Summary"/> then leaves it out.
/// </param>
/// <param name="LogLoss">Mean negative natural log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15].</param>
/// <param name="Precision">True positives over predicted positives; 0 when nothing is predicted positive.</param>
/// <param name="Recall">True positives over actual positives; 0 when there are no positives.</param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
/// <param name="Brier">Mean squared difference between the probability and the 0/1 label.</param>
/// <param name="ExpectedCalibrationError">
/// Sum over the non-empty <see cref="Calibration"/> bins of (bin rows / rows) times
/// |mean predicted - observed rate|.
/// </param>
public sealed record BinaryMetrics(
    long Rows,
    long Positives,
    double Threshold,
    double Auc,
    double LogLoss,
    double Accuracy,
    double Precision,
    double Recall,
    double F1,
    double Brier,
    double ExpectedCalibrationError,
    IReadOnlyList<CalibrationBin> Calibration)
{
    /// <param name="labels">True for the positive class.</param>
    /// <param name="probabilities">Predicted probability of the positive class, finite and in [0, 1].</param>
    /// <param name="threshold">Probability at or above which a row is predicted positive.</param>
    /// <param name="calibrationBins">Number of equal-width bins over [0, 1] for calibration and ECE.</param>
    /// <exception cref="ArgumentException">The lists differ in length or are empty, or a probability is outside [0, 1].</exception>
    public static BinaryMetrics Compute(
        IReadOnlyList<bool> labels, IReadOnlyList<double> probabilities, double threshold = 0.5, int calibrationBins = 10)
    {
        MetricInputs.RequireRows(labels, probabilities, nameof(labels), nameof(probabilities));
        MetricInputs.RequireProbability(threshold, nameof(threshold), "");
        ArgumentOutOfRangeException.ThrowIfLessThan(calibrationBins, 1);

        var rows = labels.Count;
        var binCounts = new long[calibrationBins];
        var binPredicted = new double[calibrationBins];
        var binPositives = new long[calibrationBins];
        long positives = 0, truePositives = 0, predictedPositives = 0, correct = 0;
        double logLoss = 0, brier = 0;

        for (var i = 0; i < rows; i++)
        {
            var p = probabilities[i];
            MetricInputs.RequireProbability(p, nameof(probabilities), $"[{i}]");
            var positive = labels[i];
            var predicted = p >= threshold;
            var y = positive ? 1.0 : 0.0;

            positives += positive ? 1 : 0;
            predictedPositives += predicted ? 1 : 0;
            truePositives += positive && predicted ? 1 : 0;
            correct += positive == predicted ? 1 : 0;
            logLoss -= positive ? Math.Log(MetricInputs.Clip(p)) : Math.Log(1 - MetricInputs.Clip(p));
            brier += (p - y) * (p - y);

            var bin = CalibrationBinOf(p, calibrationBins);
            binCounts[bin]++;
            binPredicted[bin] += p;
            binPositives[bin] += positive ? 1 : 0;
        }

        var calibration = new List<CalibrationBin>();
        double ece = 0;
        for (var b = 0; b < calibrationBins; b++)
        {
            if (binCounts[b] == 0)
            {
                continue;
            }

            var meanPredicted = binPredicted[b] / binCounts[b];
            var observed = (double)binPositives[b] / binCounts[b];
            calibration.Add(new((double)b / calibrationBins, (double)(b + 1) / calibrationBins, binCounts[b], meanPredicted, observed));
            ece += (double)binCounts[b] / rows * Math.Abs(meanPredicted - observed);
        }

        return new(
            rows,
            positives,
            threshold,
            RankAuc(labels, probabilities, positives),
            logLoss / rows,
            (double)correct / rows,
            Ratio(truePositives, predictedPositives),
            Ratio(truePositives, positives),
            Ratio(2 * truePositives, positives + predictedPositives),
            brier / rows,
            ece,
            calibration);
    }

    /// <summary>
    /// The scalar metrics under the snake_case keys a version's and a live window's metrics are
    /// stored and compared under. An undefined AUC is left out, so the summary always serialises
    /// as plain JSON (which has no NaN).
    /// </summary>
    public IReadOnlyDictionary<string, double> Summary()
    {
        var summary = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["rows"] = Rows,
            ["positives"] = Positives,
            ["threshold"] = Threshold,
        };
        if (!double.IsNaN(Auc))
        {
            summary["auc"] = Auc;
        }

        summary["log_loss"] = LogLoss;
        summary["accuracy"] = Accuracy;
        summary["precision"] = Precision;
        summary["recall"] = Recall;
        summary["f1"] = F1;
        summary["brier"] = Brier;
        summary["ece"] = ExpectedCalibrationError;
        return summary;
    }

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;

    /// <summary>
    /// The bin whose [lower, upper) edges, computed as b / bins exactly as reported, hold the
    /// probability: plain floor(p * bins) can disagree with those edges by one near a boundary.
    /// </summary>
    private static int CalibrationBinOf(double probability, int bins)
    {
        var bin = Math.Min((int)(probability * bins), bins - 1);
        if (bin > 0 && (double)bin / bins > probability)
        {
            bin--;
        }
        else if (bin < bins - 1 && (double)(bin + 1) / bins <= probability)
        {
            bin++;
        }

        return bin;
    }

    /// <summary>
    /// Sorts once and walks groups of equal scores: each positive beats every negative below its
    /// group and half of the negatives inside it. The counts are exact integers (or halves) in a
    /// double well past a million rows.
    /// </summary>
    private static double RankAuc(IReadOnlyList<bool> labels, IReadOnlyList<double> probabilities, long positives)
    {
        var rows = labels.Count;
        var negatives = rows - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        var scores = probabilities.ToArray();
        var sortedLabels = labels.ToArray();
        Array.Sort(scores, sortedLabels);

        double wins = 0;
        long negativesBelow = 0;
        for (var start = 0; start < rows;)
        {
            var end = start;
            long groupPositives = 0;
            while (end < rows && scores[end] == scores[start])
            {
                groupPositives += sortedLabels[end] ? 1 : 0;
                end++;
            }

            var groupNegatives = end - start - groupPositives;
            wins += groupPositives * (negativesBelow + (groupNegatives / 2.0));
            negativesBelow += groupNegatives;
            start = end;
        }

        return wins / ((double)positives * negatives);
    }
}
