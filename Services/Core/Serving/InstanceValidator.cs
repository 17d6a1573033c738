using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using System.Text;
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

    /// <summary>
    /// The entities whose stored features some instance needs, each once. None when the request
    /// holds more than <paramref name="maxInstances"/> instances: <see cref="Validate"/> refuses it,
    /// and an oversized request must not cost the online store a read per entity first.
    /// </summary>
    public static IReadOnlyList<string> EntitiesToLookUp(ModelSchema schema, JsonElement body, int maxInstances)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (schema.EntityKey is null || body.ValueKind != JsonValueKind.Object ||
            !body.TryGetProperty(InstancesFieldUtf8, out var instances) || instances.ValueKind != JsonValueKind.Array ||
            instances.GetArrayLength() > maxInstances)
        {
            return [];
        }

        List<string>? entities = null;
        HashSet<string>? seen = null;
        var index = SchemaIndex.Of(schema);
        foreach (var instance in instances.EnumerateArray())
        {
            if (instance.ValueKind == JsonValueKind.Object &&
                instance.TryGetProperty(EntityIdFieldUtf8, out var id) && id.ValueKind == JsonValueKind.String &&
                index.MissesAny(instance) &&
                id.GetString() is { Length: > 0 and <= FeatureValues.MaxTextLength } entity &&
                (seen ??= new HashSet<string>(StringComparer.Ordinal)).Add(entity))
            {
                (entities ??= []).Add(entity);
            }
        }

        return entities ?? (IReadOnlyList<string>)[];
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
        var hasInstances = body.TryGetProperty(InstancesFieldUtf8, out var instances);
        if (body.GetPropertyCount() != (hasInstances ? 1 : 0))
        {
            foreach (var property in body.EnumerateObject())
            {
                if (!property.NameEquals(InstancesFieldUtf8))
                {
                    errors.Add(new(property.Name, $"is not part of a predict request (only \"{InstancesField}\").", Code: "unknown_column"));
                }
            }
        }

        if (!hasInstances)
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

        var index = SchemaIndex.Of(schema);
        var rows = new List<IReadOnlyDictionary<string, object?>>(count);
        var entityIds = new List<string?>(count);
        var position = 0;
        foreach (var instance in instances.EnumerateArray())
        {
            var at = position++;
            if (instance.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(Prefix(at), $"must be an object of feature values, not {FeatureValues.Describe(instance)}.", Code: "type"));
                continue;
            }

            rows.Add(ValidateInstance(schema, settings, index, instance, at, online, errors, out var entityId));
            entityIds.Add(entityId);
        }

        return new(errors, errors.Count == 0 ? rows : [], errors.Count == 0 ? entityIds : []);
    }

    private static string Prefix(int position) => $"{InstancesField}[{position}]";

    /// <remarks>
    /// A valid instance builds no strings: each feature is found by its UTF-8 name, and an
    /// instance whose properties are all features (plus <c>entity_id</c>) needs no pass over its
    /// property names. Field names are made only for errors.
    /// </remarks>
    private static Dictionary<string, object?> ValidateInstance(
        ModelSchema schema,
        ServingSettings settings,
        SchemaIndex index,
        JsonElement instance,
        int position,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? online,
        List<FieldError> errors,
        out string? entityId)
    {
        var features = index.Features;
        var values = new JsonElement[features.Length];
        var given = 0;
        for (var k = 0; k < features.Length; k++)
        {
            if (instance.TryGetProperty(index.Utf8Names[k], out values[k]))
            {
                given++;
            }
            else
            {
                values[k] = default;
            }
        }

        entityId = null;
        var properties = instance.GetPropertyCount();
        if (instance.TryGetProperty(EntityIdFieldUtf8, out var entityValue) && properties == given + 1)
        {
            // The one extra property is entity_id.
            entityId = ReadEntityId(entityValue, position, errors);
        }
        else if (properties != given)
        {
            // Something other than the features: name each unknown property in order.
            foreach (var property in instance.EnumerateObject())
            {
                if (property.NameEquals(EntityIdFieldUtf8))
                {
                    entityId = ReadEntityId(property.Value, position, errors) ?? entityId;
                }
                else if (!index.Names.Contains(property.Name))
                {
                    var why = property.Name == schema.Target.Name ? "is the target; a request gives features only." : "is not a feature of this model.";
                    errors.Add(new($"{Prefix(position)}.{property.Name}", why, Code: "unknown_column"));
                }
            }
        }

        IReadOnlyDictionary<string, JsonElement>? stored = null;
        if (given < features.Length && entityId is not null && schema.EntityKey is not null)
        {
            if (online is null || !online.TryGetValue(entityId, out stored))
            {
                var missing = features.Where((_, k) => values[k].ValueKind == JsonValueKind.Undefined).Select(f => f.Name);
                errors.Add(new($"{Prefix(position)}.{EntityIdField}",
                    $"the entity '{entityId}' has no features in the online store, and the instance does not give {string.Join(", ", missing)}.",
                    Code: "unknown_entity"));
                return [];
            }
        }

        var row = new Dictionary<string, object?>(features.Length, StringComparer.Ordinal);
        for (var k = 0; k < features.Length; k++)
        {
            var feature = features[k];
            (string Message, string Code)? problem = null;
            if (values[k].ValueKind != JsonValueKind.Undefined)
            {
                row[feature.Name] = FeatureValues.Read(feature, values[k], settings, index.Categories[k], out problem);
            }
            else if (stored is not null && stored.TryGetValue(feature.Name, out var storedValue))
            {
                row[feature.Name] = FeatureValues.Read(feature, storedValue, settings, index.Categories[k], out problem);
            }
            else if (feature.Nullable)
            {
                row[feature.Name] = null;
            }
            else
            {
                var hint = schema.EntityKey is not null && entityId is null ? $" (or give \"{EntityIdField}\" to read it from the online store)" : "";
                problem = ($"is required{hint}.", "required");
            }

            if (problem is { } error)
            {
                errors.Add(new($"{Prefix(position)}.{feature.Name}", error.Message, Code: error.Code));
            }
        }

        return row;
    }

    private static string? ReadEntityId(JsonElement value, int position, List<FieldError> errors)
    {
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } id)
        {
            errors.Add(new($"{Prefix(position)}.{EntityIdField}", "must be a non-empty string.", Code: "type"));
            return null;
        }

        if (id.Length > FeatureValues.MaxTextLength)
        {
            errors.Add(new($"{Prefix(position)}.{EntityIdField}", $"is longer than {FeatureValues.MaxTextLength} characters.", Code: "length"));
            return null;
        }

        return id;
    }

    private static ReadOnlySpan<byte> EntityIdFieldUtf8 => "entity_id"u8;

    private static ReadOnlySpan<byte> InstancesFieldUtf8 => "instances"u8;

    /// <summary>What validation reads from a schema on every request, built once per schema.</summary>
    private sealed class SchemaIndex
    {
        private static readonly ConditionalWeakTable<ModelSchema, SchemaIndex> Built = new();

        private SchemaIndex(ModelSchema schema)
        {
            Features = [.. schema.Features];
            Utf8Names = [.. Features.Select(f => Encoding.UTF8.GetBytes(f.Name))];
            Names = Features.Select(f => f.Name).ToFrozenSet(StringComparer.Ordinal);
            Categories = [.. Features.Select(f => f.Categories is { Count: > 0 } categories
                ? categories.ToFrozenSet(StringComparer.Ordinal)
                : null)];
        }

        public FeatureDefinition[] Features { get; }

        public byte[][] Utf8Names { get; }

        public FrozenSet<string> Names { get; }

        public IReadOnlySet<string>?[] Categories { get; }

        public static SchemaIndex Of(ModelSchema schema) => Built.GetValue(schema, s => new SchemaIndex(s));

        /// <summary>Whether the instance leaves out some feature (so its entity's stored features may be needed).</summary>
        public bool MissesAny(JsonElement instance)
        {
            foreach (var name in Utf8Names)
            {
                if (!instance.TryGetProperty(name, out _))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
