namespace Flywheel.Core.Rollouts;

/// <summary>
/// What one arm of a canary (the production version or the canary) did over the bake period so far.
/// </summary>
/// <param name="Requests">Predictions served.</param>
/// <param name="Errors">Of those, how many failed (a 5xx or a model error); at most <paramref name="Requests"/>.</param>
/// <param name="LatenciesMs">Serving latency of the requests (one per request, however many rows it carried), or a uniform sample of them; may be empty.</param>
/// <param name="Labelled">Predictions whose label has come back.</param>
/// <param name="Correct">Classification: labelled predictions that matched their label. Ignored for regression.</param>
/// <param name="AbsoluteErrors">Regression: |label - prediction| of each labelled prediction (<paramref name="Labelled"/> of them); null for classification.</param>
/// <param name="Scored">
/// Binary classification: the labelled predictions' scores (P(positive)) with whether the label was
/// positive, or a uniform sample of them, for the AUC; null for other tasks.
/// </param>
public sealed record ArmEvidence(
    long Requests,
    long Errors,
    IReadOnlyList<double> LatenciesMs,
    long Labelled,
    long Correct,
    IReadOnlyList<double>? AbsoluteErrors,
    IReadOnlyList<ScoredLabel>? Scored = null)
{
    /// <summary>Throws when the counts contradict each other; evidence is collected by code, so this is a bug, not bad input.</summary>
    internal void Require(string arm)
    {
        ArgumentNullException.ThrowIfNull(LatenciesMs, $"{arm}.{nameof(LatenciesMs)}");
        Check(Requests >= 0 && Errors >= 0 && Errors <= Requests, arm, $"errors ({Errors}) must be between 0 and requests ({Requests})");
        Check(Labelled >= 0, arm, $"labelled ({Labelled}) must not be negative");
        Check(AbsoluteErrors is not null || (Correct >= 0 && Correct <= Labelled), arm, $"correct ({Correct}) must be between 0 and labelled ({Labelled})");
        Check(AbsoluteErrors is null || AbsoluteErrors.Count == Labelled, arm, $"absolute errors ({AbsoluteErrors?.Count}) must number the labelled rows ({Labelled})");
        Check(LatenciesMs.All(l => double.IsFinite(l) && l >= 0), arm, "latencies must be finite and not negative");
        Check(AbsoluteErrors is null || AbsoluteErrors.All(e => double.IsFinite(e) && e >= 0), arm, "absolute errors must be finite and not negative");
        Check(Scored is null || AbsoluteErrors is null, arm, "a regression arm has no scored labels");
        Check(Scored is null || Scored.Count <= Labelled, arm, $"scored labels ({Scored?.Count}) must not outnumber the labelled rows ({Labelled})");
        Check(Scored is null || Scored.All(s => s.Score is >= 0 and <= 1), arm, "scores must be probabilities in [0, 1]");
    }

    private static void Check(bool condition, string arm, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"The {arm} evidence is inconsistent: {message}.", arm);
        }
    }
}

/// <summary>One labelled prediction of a binary model: the score it gave (P(positive)) and whether the label was positive.</summary>
public readonly record struct ScoredLabel(bool Positive, double Score);
