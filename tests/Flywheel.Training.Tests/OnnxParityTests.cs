using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Training.Tests;

/// <summary>The parity check has teeth: it catches a model that is not the one evaluated, and one whose inputs are not the schema's.</summary>
public sealed class OnnxParityTests
{
    private static readonly ModelSchema Schema = SyntheticData.Schema(ModelTask.Regression);
    private static readonly List<TrainingRow> Rows = SyntheticData.Rows(ModelTask.Regression, count: 600);

    private static TrainedModel Train(int maxIterations) => ModelTrainer.Train(
        Schema, Rows, new TrainingSpec(TrainerKind.Sdca, new Dictionary<string, double> { ["max_iterations"] = maxIterations }, 1));

    [Fact]
    public void Predictions_of_a_different_model_fail_parity()
    {
        using var evaluated = Train(maxIterations: 1);
        using var exported = Train(maxIterations: 50);

        var parity = OnnxParity.Check(exported.ExportOnnx(), Schema, Rows, evaluated.Predict(Rows));

        Assert.True(parity.MaxAbsDiff > 1e-2, $"max difference {parity.MaxAbsDiff}");
    }

    [Theory]
    [InlineData(TrainerKind.LightGbm)]
    [InlineData(TrainerKind.FastTree)]
    [InlineData(TrainerKind.Sdca)]
    public void Large_regression_values_agree_within_a_relative_1e_4(TrainerKind trainer)
    {
        var rows = Rows.Select(r => r with { Target = (double)r.Target! * 100_000 }).ToList();
        using var model = ModelTrainer.Train(Schema, rows, new TrainingSpec(trainer, new Dictionary<string, double>(), 1));

        var parity = OnnxParity.Check(model.ExportOnnx(), Schema, rows, model.Predict(rows));

        Assert.InRange(parity.MaxRelDiff, 0, 1e-4);
        Assert.True(parity.MaxRelDiff <= parity.MaxAbsDiff);
    }

    [Fact]
    public void Lightgbm_on_more_than_50000_rows_still_exports_onnx_that_matches()
    {
        // Past 50,000 rows ML.NET turns on LightGBM's categorical splits unless told not to, and
        // those export as tree nodes without a feature that ONNX Runtime refuses to load.
        var schema = SyntheticData.Schema(ModelTask.Binary);
        var rows = SyntheticData.Rows(ModelTask.Binary, count: 50_001);
        var sample = rows[..500];
        using var model = ModelTrainer.Train(schema, rows, new TrainingSpec(TrainerKind.LightGbm, new Dictionary<string, double> { ["num_iterations"] = 5 }, 1));

        var parity = OnnxParity.Check(model.ExportOnnx(), schema, sample, model.Predict(sample));

        Assert.InRange(parity.MaxAbsDiff, 0, 1e-4);
    }

    [Fact]
    public void A_model_whose_inputs_differ_from_the_schema_is_refused()
    {
        using var model = Train(maxIterations: 5);
        var renamed = Schema with { Features = [.. Schema.Features.Select(f => f.Name == "hour" ? f with { Name = "hour_of_day" } : f)] };
        var rows = SyntheticData.With(Rows, "hour_of_day", 3.0);

        var error = Assert.Throws<TrainingException>(() => OnnxParity.Check(model.ExportOnnx(), renamed, rows, model.Predict(Rows)));

        Assert.Contains("'hour'", error.Message);
    }

    [Fact]
    public void A_categorical_feature_fed_as_numbers_is_refused()
    {
        using var model = Train(maxIterations: 5);
        var retyped = Schema with { Features = [.. Schema.Features.Select(f => f.Name == "merchant_category" ? f with { Type = FeatureType.Numeric } : f)] };

        Assert.Throws<TrainingException>(() => OnnxParity.Check(model.ExportOnnx(), retyped, Rows, model.Predict(Rows)));
    }
}
