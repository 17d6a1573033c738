namespace Flywheel.Core.Evaluation;

/// <summary>
/// One class seen one-vs-rest: <see cref="Support"/> rows truly of this class. Precision is 0 when
/// the class was never predicted, recall when it never occurred, F1 when both are 0.
/// </summary>
public sealed record ClassMetrics(int Class, long Support, double Precision, double Recall, double F1);

/// <summary>
/// How well a multiclass classifier's probability vectors predict labelled rows. The predicted
/// class is the argmax of the vector, the lowest index winning a tie.
/// </summary>
/// <param name="Classes">Length of every probability vector; labels index into it.</param>
/// <param name="MacroF1">
/// Unweighted mean of the per-class F1 over the classes that occur in the labels or the
/// predictions, as scikit-learn averages: a class absent from a window and never predicted in it
/// neither helps nor hurts.
/// </param>
/// <param name="LogLoss">
/// Mean of -ln(probability given to the true class), clipped to [1e-15, 1 - 1e-15]; vectors are
/// taken as given, not renormalised to sum to 1.
/// </param>
/// <param name="PerClass">Every class 0..Classes-1 in order, including those with no support.</param>
public sealed record MulticlassMetrics(
    long Rows,
    int Classes,
    double Accuracy,
    double MacroF1,
    double LogLoss,
    IReadOnlyList<ClassMetrics> PerClass)
{
    /// <param name="labels">The true class of each row, an index into its probability vector.</param>
    /// <param name="probabilities">One vector per row, all of the same length (at least 2), entries finite and in [0, 1].</param>
    /// <exception cref="ArgumentException">
    /// The lists differ in length or are empty, vectors differ in length, a probability is outside
    /// [0, 1], or a label is not an index into the vector.
    /// </exception>
    public static MulticlassMetrics Compute(IReadOnlyList<int> labels, IReadOnlyList<double[]> probabilities)
    {
        MetricInputs.RequireRows(labels, probabilities, nameof(labels), nameof(probabilities));
        var classes = probabilities[0]?.Length ?? 0;
        if (classes < 2)
        {
            throw new ArgumentException($"probabilities[0] has {classes} entries; a multiclass vector needs at least 2.", nameof(probabilities));
        }

        var rows = labels.Count;
        var support = new long[classes];
        var predictedCounts = new long[classes];
        var truePositives = new long[classes];
        long correct = 0;
        double logLoss = 0;

        for (var i = 0; i < rows; i++)
        {
            var vector = probabilities[i];
            if (vector is null || vector.Length != classes)
            {
                throw new ArgumentException($"probabilities[{i}] has {vector?.Length ?? 0} entries, not {classes} like the first row.", nameof(probabilities));
            }

            var label = labels[i];
            if (label < 0 || label >= classes)
            {
                throw new ArgumentException($"labels[{i}] is {label}; labels must be class indexes in [0, {classes - 1}].", nameof(labels));
            }

            var predicted = 0;
            for (var c = 0; c < classes; c++)
            {
                MetricInputs.RequireProbability(vector[c], nameof(probabilities), $"[{i}][{c}]");
                if (vector[c] > vector[predicted])
                {
                    predicted = c;
                }
            }

            support[label]++;
            predictedCounts[predicted]++;
            if (predicted == label)
            {
                truePositives[label]++;
                correct++;
            }

            logLoss -= Math.Log(MetricInputs.Clip(vector[label]));
        }

        var perClass = new ClassMetrics[classes];
        double f1Sum = 0;
        var averaged = 0;
        for (var c = 0; c < classes; c++)
        {
            var f1 = Ratio(2 * truePositives[c], support[c] + predictedCounts[c]);
            perClass[c] = new(c, support[c], Ratio(truePositives[c], predictedCounts[c]), Ratio(truePositives[c], support[c]), f1);
            if (support[c] + predictedCounts[c] > 0)
            {
                f1Sum += f1;
                averaged++;
            }
        }

        return new(rows, classes, (double)correct / rows, f1Sum / averaged, logLoss / rows, perClass);
    }

    /// <summary>The scalar metrics under the snake_case keys a version's and a live window's metrics are stored and compared under.</summary>
    public IReadOnlyDictionary<string, double> Summary() => new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["rows"] = Rows,
        ["classes"] = Classes,
        ["accuracy"] = Accuracy,
        ["macro_f1"] = MacroF1,
        ["log_loss"] = LogLoss,
    };

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;
}
