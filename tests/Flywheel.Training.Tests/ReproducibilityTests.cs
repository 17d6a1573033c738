using System.Security.Cryptography;
using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Training.Tests;

/// <summary>Artifacts are content-addressed, so a repeated training must give the same bytes, and a changed one different bytes.</summary>
public sealed class ReproducibilityTests
{
    private static readonly ModelSchema Schema = SyntheticData.Schema(ModelTask.Binary);
    private static readonly List<TrainingRow> Rows = SyntheticData.Rows(ModelTask.Binary, count: 1500, seed: 3);

    private static string Sha256(TrainerKind trainer, int seed, IReadOnlyDictionary<string, double>? hyperparameters = null)
    {
        using var model = ModelTrainer.Train(Schema, Rows, new TrainingSpec(trainer, hyperparameters ?? new Dictionary<string, double>(), seed));
        return Convert.ToHexStringLower(SHA256.HashData(model.ExportOnnx()));
    }

    [Theory]
    [InlineData(TrainerKind.LightGbm)]
    [InlineData(TrainerKind.FastTree)]
    [InlineData(TrainerKind.Sdca)]
    public void The_same_rows_spec_and_seed_give_identical_onnx_bytes(TrainerKind trainer) =>
        Assert.Equal(Sha256(trainer, seed: 5), Sha256(trainer, seed: 5));

    [Fact]
    public void A_different_seed_gives_different_bytes_for_sdca_which_shuffles_with_it() =>
        Assert.NotEqual(Sha256(TrainerKind.Sdca, seed: 5), Sha256(TrainerKind.Sdca, seed: 6));

    [Fact]
    public void A_different_hyperparameter_gives_different_bytes() =>
        Assert.NotEqual(
            Sha256(TrainerKind.LightGbm, seed: 5),
            Sha256(TrainerKind.LightGbm, seed: 5, new Dictionary<string, double> { ["num_leaves"] = 8 }));

    [Fact]
    public void Exporting_twice_gives_the_same_bytes()
    {
        using var model = ModelTrainer.Train(Schema, Rows, new TrainingSpec(TrainerKind.Sdca, new Dictionary<string, double>(), 1));

        Assert.Equal(model.ExportOnnx(), model.ExportOnnx());
    }
}
