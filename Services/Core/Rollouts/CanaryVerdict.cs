using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flywheel.Core.Rollouts;

/// <summary>What to do with a canary now.</summary>
[JsonConverter(typeof(CanaryOutcomeJsonConverter))]
public enum CanaryOutcome
{
    /// <summary>Send it all the traffic: no check found it worse, on enough evidence.</summary>
    Promote,

    /// <summary>Take its traffic away: a check found it worse, or the bake ended without enough evidence.</summary>
    RollBack,

    /// <summary>Keep baking: not enough evidence yet either way.</summary>
    Continue,
}

/// <summary>Writes <see cref="CanaryOutcome"/> as <c>promote</c>, <c>roll_back</c>, <c>continue</c> in any serializer, as the API's enums read.</summary>
public sealed class CanaryOutcomeJsonConverter() : JsonStringEnumConverter<CanaryOutcome>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);

/// <summary>
/// One comparison of canary and production. <see cref="Production"/> and <see cref="Canary"/> are
/// the compared quantity per arm (a rate as a fraction, a latency in ms, MAE in the label's
/// units, or request and label counts); they and <see cref="PValue"/> are null where not computed,
/// so the record serialises as plain JSON.
/// </summary>
/// <param name="Name"><c>traffic</c>, <c>error_rate</c>, <c>latency_p95</c>, <c>accuracy</c> or <c>mae</c>, and <c>auc</c>.</param>
/// <param name="Passed">False when this check stands in the way of promotion as of this call.</param>
/// <param name="Detail">One human phrase with the numbers.</param>
public sealed record CanaryCheck(string Name, bool Passed, string Detail, double? Production, double? Canary, double? PValue);

/// <param name="Reason">One sentence naming the deciding checks with their numbers; it goes into the deployment history.</param>
public sealed record CanaryVerdict(CanaryOutcome Outcome, string Reason, IReadOnlyList<CanaryCheck> Checks);
