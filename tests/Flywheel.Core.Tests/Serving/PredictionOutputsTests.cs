using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class PredictionOutputsTests
{
    private static ModelSchema Schema(ModelTask task, FeatureType target) =>
        new("m", task, [new("x", FeatureType.Numeric)], new("y", target));

    [Fact]
    public void A_binary_model_with_a_boolean_target_answers_a_boolean_label_and_the_positive_probability()
    {
        var outputs = PredictionOutputs.Describe(Schema(ModelTask.Binary, FeatureType.Boolean), ["false", "true"], new ScoredRow(true, [2.3f], 0.91f));

        Assert.Equal(true, outputs["label"]);
        Assert.Equal(0.91, (double)outputs["score"]!, 6);
        var probabilities = Assert.IsType<Dictionary<string, double>>(outputs["probabilities"]);
        Assert.Equal(0.91, probabilities["true"], 6);
        Assert.Equal(0.09, probabilities["false"], 6);
    }

    [Fact]
    public void A_binary_model_with_a_categorical_target_answers_the_class_name()
    {
        var outputs = PredictionOutputs.Describe(Schema(ModelTask.Binary, FeatureType.Categorical), ["ham", "spam"], new ScoredRow(false, [-1f], 0.2f));

        Assert.Equal("ham", outputs["label"]);
        Assert.Equal(0.8, ((Dictionary<string, double>)outputs["probabilities"]!)["ham"], 6);
    }

    [Fact]
    public void A_multiclass_model_answers_every_class_probability_in_metadata_order()
    {
        var outputs = PredictionOutputs.Describe(Schema(ModelTask.Multiclass, FeatureType.Categorical), ["a", "b", "c"], new ScoredRow("b", [0.1f, 0.7f, 0.2f], null));

        Assert.Equal("b", outputs["label"]);
        Assert.Equal(0.7, (double)outputs["score"]!, 6);
        Assert.Equal(0.2, ((Dictionary<string, double>)outputs["probabilities"]!)["c"], 6);
    }

    [Fact]
    public void A_regression_model_answers_its_value()
    {
        var outputs = PredictionOutputs.Describe(Schema(ModelTask.Regression, FeatureType.Numeric), [], new ScoredRow(null, [12.5f], null));

        Assert.Equal(12.5, (double)Assert.Single(outputs).Value!, 6);
    }

    [Fact]
    public void Values_become_the_floats_and_strings_the_model_takes()
    {
        Assert.Equal(1f, FeatureValues.ToFloat(true));
        Assert.Equal(0f, FeatureValues.ToFloat(false));
        Assert.Equal(2.5f, FeatureValues.ToFloat(2.5));
        Assert.True(float.IsNaN(FeatureValues.ToFloat(null)));
        Assert.Equal("", FeatureValues.ToText(null));
        Assert.Equal("fuel", FeatureValues.ToText("fuel"));
        Assert.Throws<ArgumentException>(() => FeatureValues.ToFloat("1"));
    }
}
