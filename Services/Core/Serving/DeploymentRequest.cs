using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>A canary: a share of live traffic on a candidate version, promoted automatically when it passes if asked.</summary>
public sealed record CanaryRequest(int? Version, double? Percent, bool AutoPromote = false);

/// <summary>A shadow: a share of live traffic mirrored to a version whose answers are logged, never returned.</summary>
public sealed record ShadowRequest(int? Version, double? Percent);

/// <summary>
/// The body of <c>PUT /api/models/{model}/deployment</c> (API.md, "Deployments"): the traffic a
/// model should take. Whether the versions exist is the registry's to check; this is the shape.
/// </summary>
public sealed record DeploymentRequest(
    int? Production = null,
    CanaryRequest? Canary = null,
    ShadowRequest? Shadow = null,
    string? StickyBy = null,
    string? Reason = null)
{
    public const string StickyByEntity = "entity_id";
    public const string StickyByHeaderPrefix = "header:";
    public const int MaxReasonLength = 1000;

    /// <summary>Every field out of its range, by field (snake_case, as the client sent it).</summary>
    public IReadOnlyList<FieldError> Validate()
    {
        var errors = new List<FieldError>();
        if (Production is null)
        {
            errors.Add(new("production", "is required: the version that takes the traffic."));
        }
        else if (Production < 1)
        {
            errors.Add(new("production", "must be a version number (1 or more)."));
        }

        if (Canary is not null)
        {
            if (Canary.Version is null)
            {
                errors.Add(new("canary.version", "is required with a canary."));
            }
            else if (Canary.Version < 1)
            {
                errors.Add(new("canary.version", "must be a version number (1 or more)."));
            }
            else if (Canary.Version == Production)
            {
                errors.Add(new("canary.version", "must differ from production: a canary compares a candidate with what serves now."));
            }

            // Neither 0 (no traffic: not a canary) nor 100 (all traffic: that is a production change).
            if (Canary.Percent is not { } percent || !double.IsFinite(percent) || percent <= 0 || percent >= 100)
            {
                errors.Add(new("canary.percent", "must be above 0 and below 100."));
            }
        }

        if (Shadow is not null)
        {
            if (Shadow.Version is null)
            {
                errors.Add(new("shadow.version", "is required with a shadow."));
            }
            else if (Shadow.Version < 1)
            {
                errors.Add(new("shadow.version", "must be a version number (1 or more)."));
            }

            if (Shadow.Percent is not { } percent || !double.IsFinite(percent) || percent <= 0 || percent > 100)
            {
                errors.Add(new("shadow.percent", "must be above 0 and at most 100."));
            }
        }

        if (StickyBy is not null && !IsStickyBy(StickyBy))
        {
            errors.Add(new("sticky_by", "must be 'entity_id' or 'header:<Header-Name>' (a valid HTTP header name), or null."));
        }

        if (Reason is { Length: > MaxReasonLength })
        {
            errors.Add(new("reason", $"must be at most {MaxReasonLength} characters."));
        }

        return errors;
    }

    /// <summary>True for <c>entity_id</c> and <c>header:&lt;name&gt;</c> where the name is an HTTP token (RFC 9110 §5.6.2).</summary>
    public static bool IsStickyBy(string value) =>
        value == StickyByEntity ||
        (value.StartsWith(StickyByHeaderPrefix, StringComparison.Ordinal) && IsToken(value.AsSpan(StickyByHeaderPrefix.Length)));

    private static bool IsToken(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > 256)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The version a rollback without a version returns to: the production of the most recent
    /// history entry whose production differs from <paramref name="current"/>, or null when the
    /// model has only ever served <paramref name="current"/>.
    /// </summary>
    /// <param name="productionsNewestFirst">Each history entry's production, newest first.</param>
    public static int? PreviousProduction(int current, IEnumerable<int> productionsNewestFirst)
    {
        foreach (var production in productionsNewestFirst)
        {
            if (production != current)
            {
                return production;
            }
        }

        return null;
    }
}
