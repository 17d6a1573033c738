using System.Text.Json;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>Requests checked against a model's schema: typed rows when valid, every problem by field when not.</summary>
public sealed record ValidatedRequest(
    IReadOnlyList<FieldError> Errors,
    IReadOnlyList<IReadOnlyDictionary<string, object?>> Rows,
    IReadOnlyList<string?> EntityIds)
{
    public bool IsValid => Errors.Count == 0;

    public static ValidatedRequest Invalid(params FieldError[] errors) => new(errors, [], []);
}

/// <summary>
/// Validates a KServe V1 body (<c>{"instances": [ {...} ]}</c>) against the schema. Each instance
/// gives features by name; where the model has an entity key and an instance names its
/// <c>entity_id</c>, features it leaves out come from the online store (looked up first with
/// <see cref="EntitiesToLookUp"/>, so a batch costs one round trip). Errors are keyed
/// <c>instances[3].amount</c>.
/// </summary>
public static class InstanceValidator
{
    public const string InstancesField = "instances";
    public const string EntityIdField = "entity_id";

    /// <summary>The entities whose stored features some instance needs, each once.</summary>
    public static IReadOnlyList<string> EntitiesToLookUp(ModelSchema schema, JsonElement body)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (schema.EntityKey is null || body.ValueKind != JsonValueKind.Object ||
            !body.TryGetProperty(InstancesField, out var instances) || instances.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var entities = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var instance in instances.EnumerateArray())
        {
            if (instance.ValueKind == JsonValueKind.Object &&
                instance.TryGetProperty(EntityIdField, out var id) && id.ValueKind == JsonValueKind.String &&
                id.GetString() is { Length: > 0 and <= FeatureValues.MaxTextLength } entity &&
                schema.Features.Any(f => !instance.TryGetProperty(f.Name, out _)) &&
                seen.Add(entity))
            {
                entities.Add(entity);
            }
        }

        return entities;
    }

    /// <param name="online">Stored features by entity, for the entities <see cref="EntitiesToLookUp"/> named; an entity absent here is unknown.</param>
    public static ValidatedRequest Validate(
        ModelSchema schema,
        ServingSettings settings,
        JsonElement body,
        int maxInstances,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? online = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(settings);
        if (body.ValueKind != JsonValueKind.Object)
        {
            return ValidatedRequest.Invalid(new FieldError("body", $"must be a JSON object with \"{InstancesField}\", not {FeatureValues.Describe(body)}.", Code: "type"));
        }

        var errors = new List<FieldError>();
        foreach (var property in body.EnumerateObject().Where(p => p.Name != InstancesField))
        {
            errors.Add(new(property.Name, $"is not part of a predict request (only \"{InstancesField}\").", Code: "unknown_column"));
        }

        if (!body.TryGetProperty(InstancesField, out var instances))
        {
            errors.Add(new(InstancesField, "is required: an array of instances to score.", Code: "required"));
            return new(errors, [], []);
        }

        if (instances.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new(InstancesField, $"must be an array, not {FeatureValues.Describe(instances)}.", Code: "type"));
            return new(errors, [], []);
        }

        var count = instances.GetArrayLength();
        if (count == 0)
        {
            errors.Add(new(InstancesField, "must hold at least one instance.", Code: "required"));
            return new(errors, [], []);
        }

        if (count > maxInstances)
        {
            errors.Add(new(InstancesField, $"holds {count} instances; at most {maxInstances} are allowed per request.", Code: "length"));
            return new(errors, [], []);
        }

        var known = schema.Features.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var rows = new List<IReadOnlyDictionary<string, object?>>(count);
        var entityIds = new List<string?>(count);
        var index = 0;
        foreach (var instance in instances.EnumerateArray())
        {
            var prefix = $"{InstancesField}[{index++}]";
            if (instance.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(prefix, $"must be an object of feature values, not {FeatureValues.Describe(instance)}.", Code: "type"));
                continue;
            }

            rows.Add(ValidateInstance(schema, settings, known, instance, prefix, online, errors, out var entityId));
            entityIds.Add(entityId);
        }

        return new(errors, errors.Count == 0 ? rows : [], errors.Count == 0 ? entityIds : []);
    }

    private static Dictionary<string, object?> ValidateInstance(
        ModelSchema schema,
        ServingSettings settings,
        Dictionary<string, FeatureDefinition> known,
        JsonElement instance,
        string prefix,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? online,
        List<FieldError> errors,
        out string? entityId)
    {
        entityId = null;
        foreach (var property in instance.EnumerateObject())
        {
            if (property.Name == EntityIdField)
            {
                if (property.Value.ValueKind != JsonValueKind.String || property.Value.GetString() is not { Length: > 0 } id)
                {
                    errors.Add(new($"{prefix}.{EntityIdField}", "must be a non-empty string.", Code: "type"));
                }
                else if (id.Length > FeatureValues.MaxTextLength)
                {
                    errors.Add(new($"{prefix}.{EntityIdField}", $"is longer than {FeatureValues.MaxTextLength} characters.", Code: "length"));
                }
                else
                {
                    entityId = id;
                }
            }
            else if (!known.ContainsKey(property.Name))
            {
                var why = property.Name == schema.Target.Name ? "is the target; a request gives features only." : "is not a feature of this model.";
                errors.Add(new($"{prefix}.{property.Name}", why, Code: "unknown_column"));
            }
        }

        IReadOnlyDictionary<string, JsonElement>? stored = null;
        var missing = schema.Features.Where(f => !instance.TryGetProperty(f.Name, out _)).ToList();
        if (missing.Count > 0 && entityId is not null && schema.EntityKey is not null)
        {
            if (online is null || !online.TryGetValue(entityId, out stored))
            {
                errors.Add(new($"{prefix}.{EntityIdField}",
                    $"the entity '{entityId}' has no features in the online store, and the instance does not give {string.Join(", ", missing.Select(f => f.Name))}.",
                    Code: "unknown_entity"));
                return [];
            }
        }

        var row = new Dictionary<string, object?>(schema.Features.Count, StringComparer.Ordinal);
        foreach (var feature in schema.Features)
        {
            var field = $"{prefix}.{feature.Name}";
            if (instance.TryGetProperty(feature.Name, out var value))
            {
                row[feature.Name] = FeatureValues.Read(feature, value, settings, field, errors);
            }
            else if (stored is not null && stored.TryGetValue(feature.Name, out var storedValue))
            {
                row[feature.Name] = FeatureValues.Read(feature, storedValue, settings, field, errors);
            }
            else if (feature.Nullable)
            {
                row[feature.Name] = null;
            }
            else
            {
                var hint = schema.EntityKey is not null && entityId is null ? $" (or give \"{EntityIdField}\" to read it from the online store)" : "";
                errors.Add(new(field, $"is required{hint}.", Code: "required"));
            }
        }

        return row;
    }
}
