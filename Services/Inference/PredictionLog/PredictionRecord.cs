namespace Flywheel.Inference.PredictionLog;

/// <summary>
/// One served prediction on its way to <c>inference.predictions</c>. <see cref="Inputs"/> are the
/// features as served (after <c>PiiRedaction</c>); <see cref="Outputs"/> are what the caller got
/// (label, score, probabilities or value).
/// </summary>
public sealed record PredictionRecord(
    Guid PredictionId,
    DateTimeOffset At,
    string Model,
    int Version,
    bool Shadow,
    string? EntityId,
    IReadOnlyDictionary<string, object?> Inputs,
    IReadOnlyDictionary<string, object?> Outputs,
    int LatencyMicroseconds,
    int BatchSize,
    string? Caller);

/// <summary>The prediction log as the request path sees it: appending never waits.</summary>
public interface IPredictionLog
{
    /// <summary>
    /// Queues the record for the next batch. False when the bounded buffer is full and the record
    /// was not taken (counted by a metric; the prediction itself is still answered).
    /// </summary>
    bool TryAppend(PredictionRecord record);
}
