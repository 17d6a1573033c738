using System.Text.Json;

namespace Flywheel.Core.Serving;

/// <summary>
/// A binary model's logged prediction read back against the label that came back for it: the
/// score it gave (P(positive), <see cref="PredictionOutputs.ScoreKey"/>) and whether the label is
/// the positive class. The drift monitor's live AUC and the canary analysis's AUC read labels the
/// same way.
/// </summary>
public static class BinaryOutcome
{
    /// <summary>The logged P(positive), or null when the outputs carry no finite score in [0, 1].</summary>
    public static double? Score(JsonElement outputs) =>
        outputs.ValueKind == JsonValueKind.Object && outputs.TryGetProperty(PredictionOutputs.ScoreKey, out var score)
        && score.ValueKind == JsonValueKind.Number && score.GetDouble() is var value && value is >= 0 and <= 1
            ? value
            : null;

    /// <summary>
    /// Whether a label is the positive class: a boolean, 1/0, "true"/"false", or a class name. The
    /// positive class is the one whose probability the outputs give as the score
    /// (<see cref="PredictionOutputs.Describe"/>). Null when the label says neither.
    /// </summary>
    public static bool? Positive(JsonElement label, JsonElement outputs, double score)
    {
        switch (label.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Number:
                return label.GetDouble() switch { 1 => true, 0 => false, _ => null };
            case JsonValueKind.String:
                var text = label.GetString()!;
                if (bool.TryParse(text, out var flag))
                {
                    return flag;
                }

                if (outputs.ValueKind == JsonValueKind.Object &&
                    outputs.TryGetProperty(PredictionOutputs.ProbabilitiesKey, out var probabilities) &&
                    probabilities.ValueKind == JsonValueKind.Object && probabilities.TryGetProperty(text, out var p) && p.ValueKind == JsonValueKind.Number)
                {
                    return p.GetDouble() == score && probabilities.EnumerateObject().Count() == 2;
                }

                return null;
            default:
                return null;
        }
    }
}
