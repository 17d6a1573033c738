using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Schema;

public sealed class SchemaRulesTests
{
    internal static ModelSchema CardFraud() => new(
        "card-fraud",
        ModelTask.Binary,
        [
            new("amount", FeatureType.Numeric, Min: 0, Max: 50_000),
            new("merchant_category", FeatureType.Categorical, Categories: ["grocery", "travel", "online"]),
            new("is_online", FeatureType.Boolean),
            new("email", FeatureType.Categorical, Nullable: true, Pii: true),
        ],
        new TargetDefinition("is_fraud", FeatureType.Boolean),
        EntityKey: "card_id");

    private static IReadOnlyList<FieldError> Check(ModelSchema schema) => SchemaRules.Check(schema);

    [Fact]
    public void A_well_formed_schema_has_no_errors() => Assert.Empty(Check(CardFraud()));

    [Theory]
    [InlineData("")]
    [InlineData("Card")]
    [InlineData("1card")]
    [InlineData("card fraud")]
    [InlineData("card.fraud")]
    public void Model_names_are_lower_case_slugs(string name)
    {
        var error = Assert.Single(Check(CardFraud() with { Name = name }));
        Assert.Equal("name", error.Field);
    }

    [Fact]
    public void Model_names_longer_than_the_limit_are_refused()
    {
        var error = Assert.Single(Check(CardFraud() with { Name = new string('a', ModelSchema.MaxNameLength + 1) }));
        Assert.Contains("at most 64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Feature_names_may_not_contain_hyphens_because_they_become_columns()
    {
        var schema = CardFraud() with { Features = [new("merchant-category", FeatureType.Categorical)] };

        var error = Assert.Single(Check(schema));

        Assert.Equal("features[0].name", error.Field);
    }

    [Fact]
    public void A_model_needs_a_feature() =>
        Assert.Contains(Check(CardFraud() with { Features = [] }), e => e.Field == "features");

    [Fact]
    public void Too_many_features_are_refused()
    {
        var features = Enumerable.Range(0, ModelSchema.MaxFeatures + 1).Select(i => new FeatureDefinition($"f{i}", FeatureType.Numeric)).ToList();

        Assert.Contains(Check(CardFraud() with { Features = features }), e => e.Field == "features" && e.Message.Contains("1001", StringComparison.Ordinal));
    }

    [Fact]
    public void A_feature_defined_twice_is_refused()
    {
        var schema = CardFraud() with { Features = [new("amount", FeatureType.Numeric), new("amount", FeatureType.Numeric)] };

        var error = Assert.Single(Check(schema));

        Assert.Equal("features[1].name", error.Field);
    }

    [Theory]
    [InlineData("event_time")]
    [InlineData("entity_id")]
    [InlineData("event_id")]
    public void Reserved_columns_cannot_be_features(string name) =>
        Assert.Contains(Check(CardFraud() with { Features = [new(name, FeatureType.Categorical)] }), e => e.Message.Contains("reserved", StringComparison.Ordinal));

    [Fact]
    public void The_target_cannot_also_be_a_feature()
    {
        var schema = CardFraud() with { Target = new TargetDefinition("amount", FeatureType.Boolean) };

        Assert.Contains(Check(schema), e => e.Field == "target.name" && e.Message.Contains("also a feature", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(ModelTask.Binary, FeatureType.Boolean, true)]
    [InlineData(ModelTask.Binary, FeatureType.Categorical, true)]
    [InlineData(ModelTask.Binary, FeatureType.Numeric, false)]
    [InlineData(ModelTask.Multiclass, FeatureType.Categorical, true)]
    [InlineData(ModelTask.Multiclass, FeatureType.Boolean, false)]
    [InlineData(ModelTask.Regression, FeatureType.Numeric, true)]
    [InlineData(ModelTask.Regression, FeatureType.Categorical, false)]
    public void The_target_type_must_suit_the_task(ModelTask task, FeatureType targetType, bool valid)
    {
        var errors = Check(CardFraud() with { Task = task, Target = new TargetDefinition("label", targetType) });

        Assert.Equal(valid, !errors.Any(e => e.Field == "target.type"));
    }

    [Fact]
    public void Min_above_max_is_refused()
    {
        var error = Assert.Single(Check(CardFraud() with { Features = [new("amount", FeatureType.Numeric, Min: 10, Max: 1)] }));
        Assert.Equal("features[0].min", error.Field);
    }

    [Theory]
    [InlineData(double.NaN, null)]
    [InlineData(null, double.PositiveInfinity)]
    public void Bounds_must_be_finite(double? min, double? max) =>
        Assert.NotEmpty(Check(CardFraud() with { Features = [new("amount", FeatureType.Numeric, Min: min, Max: max)] }));

    [Fact]
    public void Bounds_on_a_categorical_feature_are_refused() =>
        Assert.Single(Check(CardFraud() with { Features = [new("merchant", FeatureType.Categorical, Min: 0)] }));

    [Fact]
    public void Categories_on_a_numeric_feature_are_refused() =>
        Assert.Equal("features[0].categories", Assert.Single(Check(CardFraud() with { Features = [new("amount", FeatureType.Numeric, Categories: ["a"])] })).Field);

    [Fact]
    public void An_empty_category_list_is_refused_because_it_would_reject_everything() =>
        Assert.Single(Check(CardFraud() with { Features = [new("merchant", FeatureType.Categorical, Categories: [])] }));

    [Fact]
    public void Duplicate_categories_are_refused() =>
        Assert.Single(Check(CardFraud() with { Features = [new("merchant", FeatureType.Categorical, Categories: ["a", "a"])] }));

    [Fact]
    public void The_entity_key_is_a_column_name() =>
        Assert.Equal("entity_key", Assert.Single(Check(CardFraud() with { EntityKey = "Card Id" })).Field);

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var schema = new ModelSchema("Bad Name", ModelTask.Regression, [new("x", FeatureType.Numeric, Min: 2, Max: 1), new("x", FeatureType.Boolean)], new("x", FeatureType.Boolean));

        var fields = Check(schema).Select(e => e.Field).ToList();

        Assert.Equal(["name", "features[0].min", "features[1].name", "target.name", "target.type"], fields);
    }
}
