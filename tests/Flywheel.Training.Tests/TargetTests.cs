using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Training.Tests;

/// <summary>How targets of each type become classes, and the reasons training is refused.</summary>
public sealed class TargetTests
{
    private static readonly TrainingSpec Sdca = new(TrainerKind.Sdca, new Dictionary<string, double>(), 1);

    private static List<TrainingRow> Relabel(ModelTask task, Func<TrainingRow, int, object?> target) =>
        [.. SyntheticData.Rows(task, count: 400).Select((r, i) => r with { Target = target(r, i) })];

    private static string Refusal(ModelTask task, IReadOnlyList<TrainingRow> rows, TrainingSpec? spec = null) =>
        Assert.Throws<TrainingException>(() => ModelTrainer.Train(SyntheticData.Schema(task), rows, spec ?? Sdca)).Message;

    [Fact]
    public void A_numeric_zero_one_target_trains_a_binary_model_with_classes_0_and_1()
    {
        var rows = Relabel(ModelTask.Binary, (r, _) => (bool)r.Target! ? 1.0 : 0.0);

        using var model = ModelTrainer.Train(SyntheticData.Schema(ModelTask.Binary), rows, Sdca);
        var predicted = model.Predict(rows);

        Assert.Equal(["0", "1"], model.Classes);
        Assert.All(predicted.Labels!, l => Assert.Contains(l, model.Classes));
        Assert.Equal(0, OnnxParity.Check(model.ExportOnnx(), model.Schema, rows, predicted).LabelMismatches);
    }

    [Fact]
    public void A_two_class_categorical_target_trains_a_binary_model_whose_positive_class_sorts_last()
    {
        var rows = Relabel(ModelTask.Binary, (r, _) => (bool)r.Target! ? "fraud" : "ok");

        using var model = ModelTrainer.Train(SyntheticData.Schema(ModelTask.Binary), rows, Sdca);
        var predicted = model.Predict(rows);

        Assert.Equal(["fraud", "ok"], model.Classes);
        var meanWhenOk = predicted.Scores.Where((_, i) => (string)rows[i].Target! == "ok").Average();
        var meanWhenFraud = predicted.Scores.Where((_, i) => (string)rows[i].Target! == "fraud").Average();
        Assert.True(meanWhenOk > meanWhenFraud, "the score is P(ok), the class that sorts last");
        Assert.Equal(0, OnnxParity.Check(model.ExportOnnx(), model.Schema, rows, predicted).LabelMismatches);
    }

    [Fact]
    public void Numeric_multiclass_targets_sort_by_value_and_keep_their_names()
    {
        var rows = Relabel(ModelTask.Multiclass, (r, _) => r.Target switch { "low" => 2.0, "medium" => 10.0, _ => 2.5 });

        using var model = ModelTrainer.Train(SyntheticData.Schema(ModelTask.Multiclass), rows, Sdca);
        var predicted = model.Predict(rows);

        Assert.Equal(["2", "2.5", "10"], model.Classes);
        var parity = OnnxParity.Check(model.ExportOnnx(), model.Schema, rows, predicted);
        Assert.InRange(parity.MaxAbsDiff, 0, 1e-4);
        Assert.Equal(0, parity.LabelMismatches);
    }

    [Theory]
    [InlineData(ModelTask.Binary)]
    [InlineData(ModelTask.Multiclass)]
    public void A_training_set_with_one_class_is_refused(ModelTask task)
    {
        var rows = Relabel(task, (_, _) => task == ModelTask.Binary ? true : "medium");

        Assert.Contains("only one class", Refusal(task, rows));
    }

    [Fact]
    public void An_empty_training_set_is_refused() =>
        Assert.Equal("The training set is empty.", Refusal(ModelTask.Binary, []));

    [Fact]
    public void Rows_without_a_target_are_refused() =>
        Assert.Contains("have no target value", Refusal(ModelTask.Binary, Relabel(ModelTask.Binary, (r, i) => i == 3 ? null : r.Target)));

    [Fact]
    public void A_binary_model_refuses_a_numeric_target_other_than_0_and_1() =>
        Assert.Contains("0 or 1", Refusal(ModelTask.Binary, Relabel(ModelTask.Binary, (_, i) => (double)(i % 3))));

    [Fact]
    public void A_binary_model_refuses_a_categorical_target_with_three_classes() =>
        Assert.Contains("Train a multiclass model instead", Refusal(ModelTask.Binary, Relabel(ModelTask.Binary, (_, i) => $"c{i % 3}")));

    [Fact]
    public void A_multiclass_model_refuses_a_boolean_target() =>
        Assert.Contains("needs a categorical or numeric target", Refusal(ModelTask.Multiclass, Relabel(ModelTask.Multiclass, (_, i) => i % 2 == 0)));

    [Fact]
    public void A_multiclass_target_with_more_than_1000_values_is_refused_as_a_likely_regression()
    {
        var rows = SyntheticData.Rows(ModelTask.Multiclass, count: 1001).Select((r, i) => r with { Target = i * 0.5 }).ToList();

        Assert.Contains("Is it a regression target?", Refusal(ModelTask.Multiclass, rows));
    }

    [Fact]
    public void A_regression_model_refuses_a_categorical_target() =>
        Assert.Contains("needs a finite numeric target", Refusal(ModelTask.Regression, Relabel(ModelTask.Regression, (_, _) => "high")));

    [Fact]
    public void A_feature_value_of_the_wrong_type_is_refused_with_its_row_and_name() =>
        Assert.Equal(
            "Row 1: the numeric feature 'amount' holds a String (12.5).",
            Refusal(ModelTask.Binary, SyntheticData.With(SyntheticData.Rows(ModelTask.Binary, count: 10), "amount", "12.5")));

    [Fact]
    public void Invalid_hyperparameters_are_refused_before_training() =>
        Assert.StartsWith(
            "Invalid hyperparameters: num_leaves must be between 2 and 1024",
            Refusal(ModelTask.Binary, SyntheticData.Rows(ModelTask.Binary, count: 10), new TrainingSpec(TrainerKind.LightGbm, new Dictionary<string, double> { ["num_leaves"] = 1 }, 1)));
}
