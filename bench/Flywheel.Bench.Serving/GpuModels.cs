using System.Text.Json;
using Flywheel.Core.Training;
using Flywheel.Training;

namespace Flywheel.Bench.Serving;

/// <summary>
/// Writes what <c>bench/Flywheel.Bench.Gpu</c> needs on a GPU machine that has no SDK and no
/// platform: the fraud model trained by each trainer and exported to ONNX exactly as the trainer
/// service does, its schema, and rows to score.
/// </summary>
internal static class GpuModels
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static void Export(string directory)
    {
        Directory.CreateDirectory(directory);
        var schema = FraudData.Schema("gpu-fraud");
        var rows = FraudData.Rows(5000, seed: 7);
        foreach (var kind in Enum.GetValues<TrainerKind>())
        {
            using var trained = ModelTrainer.Train(schema, rows, new TrainingSpec(kind, new Dictionary<string, double>(), 42));
            File.WriteAllBytes(Path.Combine(directory, $"{kind.ToString().ToLowerInvariant()}.onnx"), trained.ExportOnnx());
            Console.Error.WriteLine($"Exported {kind}");
        }

        File.WriteAllText(Path.Combine(directory, "schema.json"), JsonSerializer.Serialize(schema, Json));
        File.WriteAllText(Path.Combine(directory, "rows.json"), JsonSerializer.Serialize(rows.Take(4096).Select(r => r.Features), Json));
    }
}
