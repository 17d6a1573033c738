using Flywheel.Core.Training;

namespace Flywheel.Core.Tests.Training;

public sealed class HyperparametersTests
{
    public static TheoryData<TrainerKind> Trainers() => [.. Enum.GetValues<TrainerKind>()];

    [Theory]
    [MemberData(nameof(Trainers))]
    public void The_defaults_are_valid(TrainerKind trainer) =>
        Assert.Empty(Hyperparameters.Validate(trainer, Hyperparameters.Defaults(trainer)));

    [Fact]
    public void Each_trainer_knows_its_own_names()
    {
        Assert.Equal(["l2_regularization", "learning_rate", "min_data_in_leaf", "num_iterations", "num_leaves"], Hyperparameters.Defaults(TrainerKind.LightGbm).Keys.Order());
        Assert.Equal(["learning_rate", "min_data_in_leaf", "num_leaves", "num_trees"], Hyperparameters.Defaults(TrainerKind.FastTree).Keys.Order());
        Assert.Equal(["l1_regularization", "l2_regularization", "max_iterations"], Hyperparameters.Defaults(TrainerKind.Sdca).Keys.Order());
    }

    [Fact]
    public void An_unknown_name_is_an_error_on_that_name()
    {
        var errors = Hyperparameters.Validate(TrainerKind.FastTree, new Dictionary<string, double> { ["num_iterations"] = 100, ["num_trees"] = 50 });

        var error = Assert.Single(errors);
        Assert.Equal("num_iterations", error.Key);
        Assert.Contains("is not a hyperparameter of FastTree", Assert.Single(error.Value));
    }

    [Theory]
    [InlineData("num_leaves", 1, "must be between 2 and 1024; 1 is not.")]
    [InlineData("num_leaves", 2000, "must be between 2 and 1024; 2000 is not.")]
    [InlineData("learning_rate", 0, "must be between 0.0001 and 1; 0 is not.")]
    [InlineData("num_iterations", 10.5, "must be a whole number; 10.5 is not.")]
    [InlineData("l2_regularization", double.NaN, "must be a finite number.")]
    public void Out_of_range_values_are_errors(string name, double value, string message)
    {
        var errors = Hyperparameters.Validate(TrainerKind.LightGbm, new Dictionary<string, double> { [name] = value });

        Assert.Equal([message], errors[name]);
    }

    [Theory]
    [MemberData(nameof(Trainers))]
    public void Samples_are_valid_and_cover_every_parameter(TrainerKind trainer)
    {
        var random = new Random(1);
        for (var i = 0; i < 500; i++)
        {
            var trial = Hyperparameters.Sample(trainer, random);

            Assert.Equal(Hyperparameters.Defaults(trainer).Keys.Order(), trial.Keys.Order());
            Assert.Empty(Hyperparameters.Validate(trainer, trial));
        }
    }

    [Theory]
    [MemberData(nameof(Trainers))]
    public void Sampling_is_deterministic_for_a_seed(TrainerKind trainer)
    {
        var first = new Random(9);
        var again = new Random(9);
        var other = new Random(10);

        for (var i = 0; i < 5; i++)
        {
            var trial = Hyperparameters.Sample(trainer, first);
            Assert.Equal(trial, Hyperparameters.Sample(trainer, again));
            Assert.NotEqual(trial, Hyperparameters.Sample(trainer, other));
        }
    }

    [Fact]
    public void Resolve_overlays_the_given_values_on_the_defaults()
    {
        var resolved = Hyperparameters.Resolve(TrainerKind.LightGbm, new Dictionary<string, double> { ["num_leaves"] = 63 });

        Assert.Equal(63, resolved["num_leaves"]);
        Assert.Equal(Hyperparameters.Defaults(TrainerKind.LightGbm)["learning_rate"], resolved["learning_rate"]);
        Assert.Equal(Hyperparameters.Defaults(TrainerKind.Sdca), Hyperparameters.Resolve(TrainerKind.Sdca, null));
    }

    [Fact]
    public void Resolve_refuses_invalid_values() =>
        Assert.Throws<ArgumentException>(() => Hyperparameters.Resolve(TrainerKind.Sdca, new Dictionary<string, double> { ["max_iterations"] = 0 }));
}
