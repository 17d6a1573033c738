using System.Text;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Training;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Training.Tests;

/// <summary>
/// A PII categorical feature is learned and fed as the buckets of its values, so the exported model
/// holds none of the values it was trained on, says which inputs are buckets, and ONNX Runtime fed
/// as that says scores exactly as ML.NET did (missing, padded and non-ASCII values included).
/// </summary>
public sealed class PiiFeatureTests
{
    private static readonly FeatureDefinition Email = new("email", FeatureType.Categorical, Nullable: true, Pii: true);

    public static TheoryData<TrainerKind, ModelTask> All() => TrainedModels.All();

    [Theory]
    [MemberData(nameof(All))]
    public void No_value_of_a_pii_category_reaches_the_artifact_and_onnx_runtime_scores_as_ml_net(TrainerKind trainer, ModelTask task)
    {
        var schema = WithEmail(SyntheticData.Schema(task));
        var rows = WithEmails(SyntheticData.Rows(task, 2_000));
        using var model = ModelTrainer.Train(schema, rows, new TrainingSpec(trainer, new Dictionary<string, double>(), 1));

        var onnx = model.ExportOnnx();
        var parity = OnnxParity.Check(onnx, schema, rows, model.Predict(rows));

        Assert.InRange(parity.MaxRelDiff, 0, 1e-4);
        Assert.Equal(0, parity.LabelMismatches);
        var text = Encoding.UTF8.GetString(onnx);
        Assert.DoesNotContain(DistinctEmails(rows), email => text.Contains(email.Trim(), StringComparison.Ordinal));
        Assert.DoesNotContain("example.org", text, StringComparison.Ordinal);
        // The search sees strings: the same artifact carries the vocabulary of the feature that is
        // not PII, and the PII feature's buckets.
        Assert.Contains("electronics", text, StringComparison.Ordinal);
        Assert.Contains(FeatureValues.PiiBucket("person7@example.org"), text, StringComparison.Ordinal);
        using var session = new InferenceSession(onnx);
        Assert.Equal("[\"email\"]", session.ModelMetadata.CustomMetadataMap[OnnxContract.PiiBucketsMetadata]);
    }

    [Fact]
    public void The_same_category_not_marked_pii_is_in_the_artifact()
    {
        var schema = SyntheticData.Schema(ModelTask.Binary);
        schema = schema with { Features = [.. schema.Features, Email with { Pii = false }] };
        var rows = WithEmails(SyntheticData.Rows(ModelTask.Binary, 2_000));
        using var model = ModelTrainer.Train(schema, rows, new TrainingSpec(TrainerKind.LightGbm, new Dictionary<string, double>(), 1));

        var onnx = model.ExportOnnx();
        Assert.Contains("person7@example.org", Encoding.UTF8.GetString(onnx), StringComparison.Ordinal);
        using var session = new InferenceSession(onnx);
        Assert.DoesNotContain(OnnxContract.PiiBucketsMetadata, session.ModelMetadata.CustomMetadataMap.Keys);
    }

    [Fact]
    public void A_hashed_category_still_carries_its_signal()
    {
        // Ten addresses always go with fraud, the rest with the synthetic data's own signal.
        var schema = WithEmail(SyntheticData.Schema(ModelTask.Binary));
        var rows = SyntheticData.Rows(ModelTask.Binary, 3_000).Select((row, i) => i % 5 == 0
            ? row with { Features = new Dictionary<string, object?>(row.Features) { ["email"] = $"mule-{i / 5 % 10}@example.net" }, Target = true }
            : row with { Features = new Dictionary<string, object?>(row.Features) { ["email"] = $"person{i % 400}@example.org" } }).ToList();
        using var model = ModelTrainer.Train(schema, rows, new TrainingSpec(TrainerKind.LightGbm, new Dictionary<string, double>(), 1));

        var probe = SyntheticData.Rows(ModelTask.Binary, 200, seed: 5);
        var asMules = model.Predict(SyntheticData.With(probe, "email", "mule-3@example.net")).Scores;
        var asUnseen = model.Predict(SyntheticData.With(probe, "email", "someone-new@example.com")).Scores;

        Assert.True(asMules.Average() > asUnseen.Average() + 0.2, $"mule {asMules.Average():F3}, unseen {asUnseen.Average():F3}");
    }

    private static ModelSchema WithEmail(ModelSchema schema) => schema with { Features = [.. schema.Features, Email] };

    /// <summary>Addresses shared by several rows; one row in nine has none, one in eleven is padded with spaces, one in thirteen is not ASCII.</summary>
    private static List<TrainingRow> WithEmails(List<TrainingRow> rows) =>
        [.. rows.Select((row, i) => row with
        {
            Features = new Dictionary<string, object?>(row.Features)
            {
                ["email"] = (i % 9, i % 11, i % 13) switch
                {
                    (0, _, _) => null,
                    (_, 0, _) => $"  person{i % 300}@example.org ",
                    (_, _, 0) => $"jos\u00e9.\u7530\u4e2d{i % 40}@example.org",
                    _ => $"person{i % 300}@example.org",
                },
            },
        })];

    private static IEnumerable<string> DistinctEmails(IEnumerable<TrainingRow> rows) =>
        rows.Select(r => r.Features["email"]).OfType<string>().Distinct(StringComparer.Ordinal);
}
