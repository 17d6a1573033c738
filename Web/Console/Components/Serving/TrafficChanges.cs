using System.Globalization;
using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Components.Serving;

/// <summary>
/// One change of a model's traffic as the operator is asked to confirm it: the question in words
/// and what is sent. <see cref="Deployment"/> is the whole next deployment for
/// <c>PUT /api/models/{model}/deployment</c>; null means the rollback endpoint.
/// </summary>
public sealed record TrafficChange(string Question, string ConfirmLabel, bool Destructive, DeploymentRequestBody? Deployment)
{
    public bool IsRollback => Deployment is null;
}

/// <summary>
/// Builds traffic changes from the deployment the page shows, and checks the forms' values before
/// anything is sent. The PUT replaces the whole deployment (the API takes no expected revision), so
/// each change carries over what it does not touch: a canary change keeps the shadow, and so on.
/// Field names in the errors are the API's (<c>canary.percent</c>), so the form and the registry
/// report a bad value under the same name.
/// </summary>
public static class TrafficChanges
{
    public const string CanaryVersion = "canary.version";
    public const string CanaryPercent = "canary.percent";
    public const string ShadowVersion = "shadow.version";
    public const string ShadowPercent = "shadow.percent";
    public const string StickyBy = "sticky_by";

    /// <summary>A canary on <paramref name="version"/> (a new one, or the current one at another share), or the form's problems by field.</summary>
    public static (TrafficChange? Change, Dictionary<string, string> Errors) Canary(
        string model, DeploymentView current, IReadOnlyCollection<int> registered, string? version, string? percent, string? stickyBy)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var chosen = ParseVersion(version, current, registered, CanaryVersion, "the canary", errors);
        var share = ParsePercent(percent, 99, CanaryPercent, errors);
        var sticky = string.IsNullOrWhiteSpace(stickyBy) ? null : stickyBy.Trim();
        if (sticky is not null && !IsStickyBy(sticky))
        {
            errors[StickyBy] = "Enter entity_id, or header: and a header name (header:X-User-Id), or leave it empty.";
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var rest = 100 - share!.Value;
        var question = current.Canary is { } canary && canary.Version == chosen
            ? $"Send {Percent(share.Value)} of {model}'s traffic to v{chosen} (now {Percent(canary.Percent)})? v{current.Production} keeps the other {Percent(rest)}."
            : $"Send {Percent(share.Value)} of {model}'s traffic to v{chosen}? v{current.Production} keeps the other {Percent(rest)}."
              + (current.Canary is { } replaced ? $" The canary on v{replaced.Version} ends." : "");
        if (sticky != current.StickyBy)
        {
            question += sticky is null ? " Requests stop sticking to an arm." : $" Requests stick to an arm by {sticky}.";
        }

        // Auto-promotion belongs to the canary it was set for (a rollout's); a new version starts without it.
        var autoPromote = current.Canary is { } same && same.Version == chosen && same.AutoPromote;
        return (new TrafficChange(question, current.Canary is null ? "Start canary" : "Change canary", false,
            Next(current, new CanaryRequestBody(chosen!.Value, share.Value, autoPromote), ShadowOf(current), sticky)), errors);
    }

    /// <summary>The canary's version becomes production on all traffic; the canary ends.</summary>
    public static TrafficChange Promote(string model, DeploymentView current)
    {
        var canary = current.Canary ?? throw new InvalidOperationException("There is no canary to promote.");
        // A shadow of the version being promoted would compare it with itself.
        var shadow = current.Shadow is { } s && s.Version != canary.Version ? ShadowOf(current) : null;
        var question = $"Promote v{canary.Version} to production: all of {model}'s traffic goes to v{canary.Version} and v{current.Production} stops serving?"
            + (current.Shadow is not null && shadow is null ? $" The shadow on v{canary.Version} ends." : "");
        return new TrafficChange(question, $"Promote v{canary.Version}", false, Next(current, null, shadow, current.StickyBy) with { Production = canary.Version });
    }

    /// <summary>The canary ends; production takes all traffic again.</summary>
    public static TrafficChange RemoveCanary(string model, DeploymentView current)
    {
        var canary = current.Canary ?? throw new InvalidOperationException("There is no canary to remove.");
        return new TrafficChange(
            $"Remove the canary: v{canary.Version} stops taking traffic and v{current.Production} serves all of {model}'s traffic?",
            "Remove canary", true, Next(current, null, ShadowOf(current), current.StickyBy));
    }

    /// <summary>A shadow on <paramref name="version"/>, or the form's problems by field.</summary>
    public static (TrafficChange? Change, Dictionary<string, string> Errors) Shadow(
        string model, DeploymentView current, IReadOnlyCollection<int> registered, string? version, string? percent)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var chosen = ParseVersion(version, current, registered, ShadowVersion, "the shadow", errors);
        var share = ParsePercent(percent, 100, ShadowPercent, errors);
        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var question = $"Mirror {Percent(share!.Value)} of {model}'s traffic to v{chosen} as a shadow? Its answers are logged, never returned to callers."
            + (current.Shadow is { } replaced && replaced.Version != chosen ? $" The shadow on v{replaced.Version} ends." : "");
        return (new TrafficChange(question, current.Shadow is null ? "Start shadow" : "Change shadow", false,
            Next(current, CanaryOf(current), new ShadowRequestBody(chosen!.Value, share.Value), current.StickyBy)), errors);
    }

    /// <summary>The shadow ends.</summary>
    public static TrafficChange StopShadow(string model, DeploymentView current)
    {
        var shadow = current.Shadow ?? throw new InvalidOperationException("There is no shadow to stop.");
        return new TrafficChange($"Stop mirroring {model}'s traffic to v{shadow.Version}?", "Stop shadow", true,
            Next(current, CanaryOf(current), null, current.StickyBy));
    }

    /// <summary>The rollback endpoint's change: the previous production on all traffic, canary and shadow ended.</summary>
    public static TrafficChange Rollback(string model, DeploymentView current, int? previous)
    {
        var target = previous is { } version ? $"v{version}" : "its previous production version";
        var ends = (current.Canary, current.Shadow) switch
        {
            ({ } canary, { } shadow) => $" The canary on v{canary.Version} and the shadow on v{shadow.Version} end.",
            ({ } canary, null) => $" The canary on v{canary.Version} ends.",
            (null, { } shadow) => $" The shadow on v{shadow.Version} ends.",
            _ => "",
        };
        return new TrafficChange($"Roll {model} back to {target} on all traffic? v{current.Production} stops serving.{ends}", "Roll back", true, null);
    }

    /// <summary>
    /// The version a rollback returns to, as the registry picks it: the production of the newest
    /// history entry whose production differs from the current one; null when the history does not say.
    /// </summary>
    public static int? PreviousProduction(DeploymentView current, IEnumerable<DeploymentHistoryEntryView> newestFirst) =>
        newestFirst.Select(e => e.Deployment?.Production).FirstOrDefault(p => p is { } production && production != current.Production);

    /// <summary>True for <c>entity_id</c> and <c>header:&lt;name&gt;</c> with an HTTP token as the name; the registry checks again.</summary>
    public static bool IsStickyBy(string value) =>
        value == "entity_id" ||
        (value.StartsWith("header:", StringComparison.Ordinal) && value.Length > "header:".Length &&
         value["header:".Length..].All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)));

    private static int? ParseVersion(string? value, DeploymentView current, IReadOnlyCollection<int> registered, string field, string arm, Dictionary<string, string> errors)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            errors[field] = $"Choose the version for {arm}.";
            return null;
        }

        if (version == current.Production)
        {
            errors[field] = $"v{version} already serves production; choose another version for {arm}.";
            return null;
        }

        if (!registered.Contains(version))
        {
            errors[field] = $"v{version} is not a registered version of this model.";
            return null;
        }

        return version;
    }

    private static double? ParsePercent(string? value, int max, string field, Dictionary<string, string> errors)
    {
        if (!int.TryParse(value?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var percent) || percent < 1 || percent > max)
        {
            errors[field] = $"Enter a whole percent from 1 to {max}.";
            return null;
        }

        return percent;
    }

    private static DeploymentRequestBody Next(DeploymentView current, CanaryRequestBody? canary, ShadowRequestBody? shadow, string? stickyBy) =>
        new(current.Production, canary, shadow, stickyBy, null);

    private static CanaryRequestBody? CanaryOf(DeploymentView current) =>
        current.Canary is { } c ? new CanaryRequestBody(c.Version, c.Percent, c.AutoPromote) : null;

    private static ShadowRequestBody? ShadowOf(DeploymentView current) =>
        current.Shadow is { } s ? new ShadowRequestBody(s.Version, s.Percent) : null;

    private static string Percent(double percent) => $"{Format.Number(percent)}%";
}
