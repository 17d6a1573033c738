using System.Globalization;
using Flywheel.Core.Evaluation;
using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Trainer.Jobs;

/// <summary>The held-out metrics of a model, and the one a search ranks trials by.</summary>
public sealed record EvaluationResult(IReadOnlyDictionary<string, double> Metrics, string Selection, double SelectionValue, bool HigherIsBetter);

public static class Evaluation
{
    public static EvaluationResult Evaluate(ModelSchema schema, TrainedModel model, IReadOnlyList<TrainingRow> rows, Predictions predictions)
    {
        switch (schema.Task)
        {
            case ModelTask.Binary:
                {
                    var metrics = BinaryMetrics.Compute([.. rows.Select(r => IsPositive(r.Target))], predictions.Scores).Summary();
                    return double.IsNaN(metrics["auc"])
                        ? new EvaluationResult(metrics, "log_loss", metrics["log_loss"], HigherIsBetter: false)
                        : new EvaluationResult(metrics, "auc", metrics["auc"], HigherIsBetter: true);
                }

            case ModelTask.Multiclass:
                {
                    var classes = model.Classes;
                    var labels = rows.Select(r => IndexOf(classes, r.Target)).ToList();
                    // Rows whose class the model never saw in training cannot be scored as a class; they count as misses.
                    var probabilities = predictions.ClassProbabilities!;
                    var known = Enumerable.Range(0, rows.Count).Where(i => labels[i] >= 0).ToList();
                    var metrics = new Dictionary<string, double>(
                        MulticlassMetrics.Compute([.. known.Select(i => labels[i])], [.. known.Select(i => probabilities[i])]).Summary())
                    {
                        ["unseen_class_rows"] = rows.Count - known.Count,
                    };
                    return new EvaluationResult(metrics, "log_loss", metrics["log_loss"], HigherIsBetter: false);
                }

            default:
                {
                    var metrics = RegressionMetrics.Compute([.. rows.Select(r => Convert.ToDouble(r.Target, CultureInfo.InvariantCulture))], predictions.Scores).Summary();
                    return new EvaluationResult(metrics, "rmse", metrics["rmse"], HigherIsBetter: false);
                }
        }
    }

    private static bool IsPositive(object? target) => target switch
    {
        bool b => b,
        double d => d >= 0.5,
        string s => s is "true" or "1",
        _ => false,
    };

    private static int IndexOf(IReadOnlyList<string> classes, object? target)
    {
        var name = target switch
        {
            double d => d.ToString(CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            _ => target?.ToString(),
        };
        for (var i = 0; i < classes.Count; i++)
        {
            if (classes[i] == name)
            {
                return i;
            }
        }

        return -1;
    }
}
