using System.Globalization;

namespace Flywheel.Core.Schema;

/// <summary>A row checked against its model's schema: typed values when valid, every problem with its field when not.</summary>
public sealed record RowValidation(
    IReadOnlyList<FieldError> Errors,
    IReadOnlyDictionary<string, object?> Features,
    object? Target,
    DateTimeOffset? EventTime,
    string? EntityId,
    string? EventId)
{
    public bool IsValid => Errors.Count == 0;
}

/// <summary>
/// Validates one row of raw text values (a CSV record, or an event with its JSON values written
/// invariantly) against a model schema. Numbers are invariant-culture and finite; booleans are
/// true/false or 1/0; categories must be in the schema's set when it has one; unknown columns
/// are refused, so a misspelt header never silently drops a feature.
/// </summary>
public static class RowValidator
{
    public const int MaxTextLength = 256;

    /// <summary>
    /// How far ahead of the platform's clock an event or label time may be (clock skew between the
    /// sender and the platform). A time further ahead is refused: the online store keeps each
    /// entity's newest values, so a row dated 9999 would hide every real one until then, and a
    /// training window would count it as the newest data.
    /// </summary>
    public static readonly TimeSpan MaxTimeAhead = TimeSpan.FromDays(1);

    /// <param name="latestTime">The latest event time accepted (now + <see cref="MaxTimeAhead"/>); null accepts any.</param>
    public static RowValidation Validate(
        ModelSchema schema, IReadOnlyDictionary<string, string?> row, long? line = null, bool requireTarget = false, DateTimeOffset? latestTime = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(row);
        var errors = new List<FieldError>();
        var features = new Dictionary<string, object?>(StringComparer.Ordinal);
        var known = new HashSet<string>(schema.Features.Select(f => f.Name), StringComparer.Ordinal) { schema.Target.Name };

        foreach (var column in row.Keys.Where(c => !known.Contains(c) && !ModelSchema.ReservedColumns.Contains(c)).Order(StringComparer.Ordinal))
        {
            errors.Add(new(column, "is not a feature, the target or a reserved column of this model.", line, "unknown_column"));
        }

        foreach (var feature in schema.Features)
        {
            var raw = row.TryGetValue(feature.Name, out var text) ? text : null;
            if (string.IsNullOrEmpty(raw))
            {
                if (!feature.Nullable)
                {
                    errors.Add(new(feature.Name, "is required.", line, "required"));
                }

                features[feature.Name] = null;
                continue;
            }

            features[feature.Name] = Parse(feature.Name, feature.Type, raw, line, errors, feature);
        }

        object? target = null;
        if (row.TryGetValue(schema.Target.Name, out var targetText) && !string.IsNullOrEmpty(targetText))
        {
            target = Parse(schema.Target.Name, schema.Target.Type, targetText, line, errors, feature: null);
        }
        else if (requireTarget)
        {
            errors.Add(new(schema.Target.Name, "is required: this row is used for training.", line, "required"));
        }

        DateTimeOffset? eventTime = null;
        if (row.TryGetValue("event_time", out var timeText) && !string.IsNullOrEmpty(timeText))
        {
            if (DateTimeOffset.TryParse(timeText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                eventTime = TooLate(parsed, latestTime, line, errors) ? null : parsed;
            }
            else
            {
                errors.Add(new("event_time", $"'{Shorten(timeText)}' is not an ISO-8601 time.", line, "time"));
            }
        }

        var entityId = Text("entity_id", row, line, errors);
        if (schema.EntityKey is not null && entityId is null && !errors.Any(e => e.Field == "entity_id"))
        {
            errors.Add(new("entity_id", $"is required: this model is keyed by {schema.EntityKey}.", line, "required"));
        }

        return new RowValidation(errors, features, target, eventTime, entityId, Text("event_id", row, line, errors));
    }

    /// <summary>
    /// Validates a label that arrives apart from its features: the target, the entity it belongs
    /// to and the time it became true are all required (a training row joins it with the entity's
    /// features as they were at that time).
    /// </summary>
    public static RowValidation ValidateLabel(ModelSchema schema, IReadOnlyDictionary<string, string?> row, long? line = null, DateTimeOffset? latestTime = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(row);
        var errors = new List<FieldError>();
        foreach (var column in row.Keys.Where(c => c != schema.Target.Name && c is not ("entity_id" or "event_time")).Order(StringComparer.Ordinal))
        {
            errors.Add(new(column, "is not part of a label (entity_id, event_time and the target).", line, "unknown_column"));
        }

        object? target = null;
        if (row.TryGetValue(schema.Target.Name, out var targetText) && !string.IsNullOrEmpty(targetText))
        {
            target = Parse(schema.Target.Name, schema.Target.Type, targetText, line, errors, feature: null);
        }
        else
        {
            errors.Add(new(schema.Target.Name, "is required.", line, "required"));
        }

        DateTimeOffset? eventTime = null;
        if (!row.TryGetValue("event_time", out var timeText) || string.IsNullOrEmpty(timeText))
        {
            errors.Add(new("event_time", "is required: the time the label became known.", line, "required"));
        }
        else if (DateTimeOffset.TryParse(timeText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            eventTime = TooLate(parsed, latestTime, line, errors) ? null : parsed;
        }
        else
        {
            errors.Add(new("event_time", $"'{Shorten(timeText)}' is not an ISO-8601 time.", line, "time"));
        }

        var entityId = Text("entity_id", row, line, errors);
        if (entityId is null && !errors.Any(e => e.Field == "entity_id"))
        {
            errors.Add(new("entity_id", "is required: the entity whose features the label is joined with.", line, "required"));
        }

        return new RowValidation(errors, new Dictionary<string, object?>(), target, eventTime, entityId, EventId: null);
    }

    /// <summary>
    /// Checks one target value given apart from a row (a feedback label) against the model's
    /// target type, reporting problems under <paramref name="field"/>; null when it is not valid.
    /// </summary>
    public static object? ValidateTarget(ModelSchema schema, string raw, string field, long? line, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(errors);
        return Parse(field, schema.Target.Type, raw, line, errors, feature: null);
    }

    private static bool TooLate(DateTimeOffset time, DateTimeOffset? latest, long? line, List<FieldError> errors)
    {
        if (latest is not { } limit || time <= limit)
        {
            return false;
        }

        errors.Add(new("event_time", $"{time:u} is more than {MaxTimeAhead.TotalHours:0} hours ahead of the platform's clock (latest accepted {limit:u}).", line, "range"));
        return true;
    }

    private static object? Parse(string field, FeatureType type, string raw, long? line, List<FieldError> errors, FeatureDefinition? feature)
    {
        switch (type)
        {
            case FeatureType.Numeric:
                if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    errors.Add(new(field, $"'{Shorten(raw)}' is not a number.", line, "type"));
                    return null;
                }

                if (!double.IsFinite(number))
                {
                    errors.Add(new(field, "must be a finite number (not NaN or infinity).", line, "type"));
                    return null;
                }

                if (!Serving.FeatureValues.FitsFloat(number))
                {
                    errors.Add(new(field, $"{number.ToString(CultureInfo.InvariantCulture)} {Serving.FeatureValues.OutsideFloat}", line, "range"));
                    return null;
                }

                if (feature?.Min is { } min && number < min)
                {
                    errors.Add(new(field, $"{number.ToString(CultureInfo.InvariantCulture)} is below the minimum {min.ToString(CultureInfo.InvariantCulture)}.", line, "range"));
                }

                if (feature?.Max is { } max && number > max)
                {
                    errors.Add(new(field, $"{number.ToString(CultureInfo.InvariantCulture)} is above the maximum {max.ToString(CultureInfo.InvariantCulture)}.", line, "range"));
                }

                return number;

            case FeatureType.Boolean:
                switch (raw.Trim().ToLowerInvariant())
                {
                    case "true" or "1":
                        return true;
                    case "false" or "0":
                        return false;
                    default:
                        errors.Add(new(field, $"'{Shorten(raw)}' is not a boolean (true, false, 1 or 0).", line, "type"));
                        return null;
                }

            default:
                if (raw.Length > MaxTextLength)
                {
                    errors.Add(new(field, $"is longer than {MaxTextLength} characters.", line, "length"));
                    return null;
                }

                if (feature?.Categories is { } categories && !categories.Contains(raw, StringComparer.Ordinal))
                {
                    var allowed = string.Join(", ", categories.Take(10)) + (categories.Count > 10 ? $", … ({categories.Count} in all)" : "");
                    errors.Add(new(field, $"'{Shorten(raw)}' is not a known category ({allowed}).", line, "category"));
                    return null;
                }

                return raw;
        }
    }

    private static string? Text(string column, IReadOnlyDictionary<string, string?> row, long? line, List<FieldError> errors)
    {
        if (!row.TryGetValue(column, out var value) || string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (value.Length > MaxTextLength)
        {
            errors.Add(new(column, $"is longer than {MaxTextLength} characters.", line, "length"));
            return null;
        }

        return value;
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
