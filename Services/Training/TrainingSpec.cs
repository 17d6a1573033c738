using Flywheel.Core.Training;

namespace Flywheel.Training;

/// <summary>
/// What to train: the trainer, its hyperparameters by their snake_case names (see
/// <see cref="Hyperparameters"/>; missing ones take their defaults) and the seed that, with the same
/// rows, makes the run repeatable down to the bytes of the exported model.
/// </summary>
public sealed record TrainingSpec(TrainerKind Trainer, IReadOnlyDictionary<string, double> Hyperparameters, int Seed);
