using Flywheel.Core.Retraining;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Registry.Models;

public sealed record FeatureRequest(
    string? Name,
    FeatureType? Type,
    bool Nullable = false,
    double? Min = null,
    double? Max = null,
    IReadOnlyList<string>? Categories = null,
    bool Pii = false);

public sealed record TargetRequest(string? Name, FeatureType? Type);

/// <summary>
/// A model's operating rules (<c>registry.models.policy</c>; snake_case JSON, missing parts take
/// their defaults): <c>require_approval</c> holds a passing canary until an operator approves it;
/// <c>rollout</c> says how a new version reaches production; <c>retraining</c> when the model retrains by itself.
/// </summary>
public sealed record ModelPolicy(bool RequireApproval = false, RolloutPolicy? Rollout = null, RetrainingPolicy? Retraining = null)
{
    /// <summary>The policy with every part present, defaults filled in, as the API shows it.</summary>
    public ModelPolicy Complete() => this with { Rollout = Rollout ?? RolloutPolicy.Default, Retraining = Retraining ?? RetrainingPolicy.Default };

    public IReadOnlyList<FieldError> Validate() =>
        [.. Rollout?.Validate() ?? [], .. Retraining?.Validate() ?? []];
}

/// <summary>The body of <c>POST /api/models</c> (API.md, "Models").</summary>
public sealed record CreateModelRequest(
    string? Name,
    ModelTask? Task,
    string? EntityKey,
    IReadOnlyList<FeatureRequest>? Features,
    TargetRequest? Target,
    ModelPolicy? Policy)
{
    /// <summary>The schema this request describes, or the fields it leaves out.</summary>
    public (ModelSchema? Schema, List<FieldError> Errors) ToSchema()
    {
        var errors = new List<FieldError>();
        if (Task is null)
        {
            errors.Add(new("task", "is required: binary, multiclass or regression."));
        }

        if (Features is null)
        {
            errors.Add(new("features", "is required."));
        }

        if (Target?.Type is null)
        {
            errors.Add(new("target.type", "is required: numeric, categorical or boolean."));
        }

        var features = new List<FeatureDefinition>();
        for (var i = 0; i < (Features?.Count ?? 0); i++)
        {
            var feature = Features![i];
            if (feature?.Type is null)
            {
                errors.Add(new($"features[{i}].type", "is required: numeric, categorical or boolean."));
                continue;
            }

            features.Add(new FeatureDefinition(feature.Name ?? "", feature.Type.Value, feature.Nullable, feature.Min, feature.Max, feature.Categories, feature.Pii));
        }

        return errors.Count > 0
            ? (null, errors)
            : (new ModelSchema(Name ?? "", Task!.Value, features, new TargetDefinition(Target!.Name ?? "", Target.Type!.Value), EntityKey), errors);
    }
}

public sealed record ModelResponse(
    string Name,
    ModelTask Task,
    string? EntityKey,
    IReadOnlyList<FeatureDefinition> Features,
    TargetDefinition Target,
    ModelPolicy Policy,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    ServingSettings Serving)
{
    public ModelSchema ToSchema() => new(Name, Task, Features, Target, EntityKey);
}
