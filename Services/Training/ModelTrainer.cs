using Flywheel.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms;

namespace Flywheel.Training;

/// <summary>
/// Trains one model from a schema, its training rows and a spec. The task comes from the schema:
/// binary (boolean target, numeric 0/1 or a two-class categorical one), multiclass (categorical or
/// numeric target; the classes are its sorted distinct training values) or regression (numeric).
/// Every trainer handles every task; FastTree, which has no multiclass mode of its own, trains one
/// binary model per class and normalises their probabilities. Training is repeatable: the context is
/// seeded and every trainer runs on one thread, so the same rows and spec give the same model and
/// the same ONNX bytes.
/// </summary>
public static class ModelTrainer
{
    private const string Features = "Features";

    public static TrainedModel Train(ModelSchema schema, IReadOnlyList<TrainingRow> train, TrainingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(spec);
        if (schema.Features.Count == 0)
        {
            throw new TrainingException("The model has no features to learn from.");
        }

        if (train.Count == 0)
        {
            throw new TrainingException("The training set is empty.");
        }

        if (Hyperparameters.Validate(spec.Trainer, spec.Hyperparameters) is { Count: > 0 } invalid)
        {
            throw new TrainingException("Invalid hyperparameters: " + string.Join(" ", invalid.Select(e => $"{e.Key} {string.Join(" ", e.Value)}")));
        }

        var hyperparameters = Hyperparameters.Resolve(spec.Trainer, spec.Hyperparameters);
        var target = Target.Encode(schema.Task, train);
        var data = FeatureColumns.View(schema, train, target.Column);
        var ml = new MLContext(spec.Seed);

        var pipeline = Featurize(ml, schema, linear: spec.Trainer == TrainerKind.Sdca)
            .Append(Trainer(ml, schema.Task, spec, new Settings(hyperparameters)));
        var model = schema.Task == ModelTask.Multiclass
            ? pipeline.Append(ml.Transforms.Conversion.MapKeyToValue(OnnxContract.PredictedLabelColumn)).Fit(data)
            : (ITransformer)pipeline.Fit(data);

        return new TrainedModel(ml, schema, model, target.Classes);
    }

    /// <summary>
    /// Numbers and booleans pass as floats; categories become one-hot vectors, and a category never
    /// seen in training (or a missing one) becomes the all-zero vector instead of an error. Trees take
    /// NaN for a missing number; SDCA, a linear model, gets the training mean instead and features
    /// scaled into [-1, 1] so no feature dominates the regularisation by its units.
    /// </summary>
    private static IEstimator<ITransformer> Featurize(MLContext ml, ModelSchema schema, bool linear)
    {
        var columns = new List<string>();
        var categorical = new List<InputOutputColumnPair>();
        var imputed = new List<InputOutputColumnPair>();
        foreach (var feature in schema.Features)
        {
            var (column, group) = feature.Type == FeatureType.Categorical ? ($"{feature.Name}.onehot", categorical)
                : linear ? ($"{feature.Name}.imputed", imputed)
                : (feature.Name, null);
            group?.Add(new(column, feature.Name));
            columns.Add(column);
        }

        IEstimator<ITransformer> pipeline = new EstimatorChain<ITransformer>();
        if (categorical.Count > 0)
        {
            pipeline = pipeline.Append(ml.Transforms.Categorical.OneHotEncoding([.. categorical]));
        }

        if (imputed.Count > 0)
        {
            pipeline = pipeline.Append(ml.Transforms.ReplaceMissingValues([.. imputed], MissingValueReplacingEstimator.ReplacementMode.Mean));
        }

        pipeline = pipeline.Append(ml.Transforms.Concatenate(Features, [.. columns]));
        return linear ? pipeline.Append(ml.Transforms.NormalizeMinMax(Features)) : pipeline;
    }

    private static IEstimator<ITransformer> Trainer(MLContext ml, ModelTask task, TrainingSpec spec, Settings settings) =>
        (spec.Trainer, task) switch
        {
            (TrainerKind.LightGbm, ModelTask.Binary) => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
            {
                NumberOfLeaves = settings.Whole("num_leaves"),
                LearningRate = settings["learning_rate"],
                NumberOfIterations = settings.Whole("num_iterations"),
                MinimumExampleCountPerLeaf = settings.Whole("min_data_in_leaf"),
                Booster = new GradientBooster.Options { L2Regularization = settings["l2_regularization"] },
                NumberOfThreads = 1,
                Seed = spec.Seed,
                Deterministic = true,
                ForceColumnWise = true,
                UseCategoricalSplit = false,
            }),
            (TrainerKind.LightGbm, ModelTask.Multiclass) => ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            {
                NumberOfLeaves = settings.Whole("num_leaves"),
                LearningRate = settings["learning_rate"],
                NumberOfIterations = settings.Whole("num_iterations"),
                MinimumExampleCountPerLeaf = settings.Whole("min_data_in_leaf"),
                Booster = new GradientBooster.Options { L2Regularization = settings["l2_regularization"] },
                NumberOfThreads = 1,
                Seed = spec.Seed,
                Deterministic = true,
                ForceColumnWise = true,
                UseCategoricalSplit = false,
            }),
            (TrainerKind.LightGbm, _) => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
            {
                NumberOfLeaves = settings.Whole("num_leaves"),
                LearningRate = settings["learning_rate"],
                NumberOfIterations = settings.Whole("num_iterations"),
                MinimumExampleCountPerLeaf = settings.Whole("min_data_in_leaf"),
                Booster = new GradientBooster.Options { L2Regularization = settings["l2_regularization"] },
                NumberOfThreads = 1,
                Seed = spec.Seed,
                Deterministic = true,
                ForceColumnWise = true,
                UseCategoricalSplit = false,
            }),
            (TrainerKind.FastTree, ModelTask.Binary) => ml.BinaryClassification.Trainers.FastTree(FastTree(new FastTreeBinaryTrainer.Options(), spec, settings)),
            (TrainerKind.FastTree, ModelTask.Multiclass) => ml.MulticlassClassification.Trainers.OneVersusAll(
                ml.BinaryClassification.Trainers.FastTree(FastTree(new FastTreeBinaryTrainer.Options(), spec, settings))),
            (TrainerKind.FastTree, _) => ml.Regression.Trainers.FastTree(FastTree(new FastTreeRegressionTrainer.Options(), spec, settings)),
            (TrainerKind.Sdca, ModelTask.Binary) => ml.BinaryClassification.Trainers.SdcaLogisticRegression(new SdcaLogisticRegressionBinaryTrainer.Options
            {
                L2Regularization = (float)settings["l2_regularization"],
                L1Regularization = (float)settings["l1_regularization"],
                MaximumNumberOfIterations = settings.Whole("max_iterations"),
                NumberOfThreads = 1,
            }),
            (TrainerKind.Sdca, ModelTask.Multiclass) => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
            {
                L2Regularization = (float)settings["l2_regularization"],
                L1Regularization = (float)settings["l1_regularization"],
                MaximumNumberOfIterations = settings.Whole("max_iterations"),
                NumberOfThreads = 1,
            }),
            (TrainerKind.Sdca, _) => ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options
            {
                L2Regularization = (float)settings["l2_regularization"],
                L1Regularization = (float)settings["l1_regularization"],
                MaximumNumberOfIterations = settings.Whole("max_iterations"),
                NumberOfThreads = 1,
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Trainer, "Not a known trainer."),
        };

    private static TOptions FastTree<TOptions>(TOptions options, TrainingSpec spec, Settings settings) where TOptions : BoostedTreeOptions
    {
        options.NumberOfLeaves = settings.Whole("num_leaves");
        options.LearningRate = settings["learning_rate"];
        options.NumberOfTrees = settings.Whole("num_trees");
        options.MinimumExampleCountPerLeaf = settings.Whole("min_data_in_leaf");
        options.NumberOfThreads = 1;
        options.Seed = spec.Seed;
        options.FeatureSelectionSeed = spec.Seed;
        return options;
    }

    /// <summary>Resolved hyperparameters, read as the option types want them.</summary>
    private sealed class Settings(IReadOnlyDictionary<string, double> values)
    {
        public double this[string name] => values[name];

        public int Whole(string name) => (int)values[name];
    }
}
