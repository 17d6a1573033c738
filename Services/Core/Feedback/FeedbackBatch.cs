using System.Globalization;
using System.Text.Json;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Feedback;

/// <summary>
/// One label for a served prediction, named either by <see cref="PredictionId"/> or by
/// <see cref="EntityId"/> and <see cref="EventTime"/> (the entity's latest prediction at or before
/// that time). <see cref="Label"/> is typed as the model's target (bool, double or string).
/// </summary>
public sealed record FeedbackItem(long Line, Guid? PredictionId, string? EntityId, DateTimeOffset? EventTime, object Label);

/// <summary>A feedback body read against the model: its items when every one is valid, every problem when not.</summary>
public sealed record FeedbackBatch(IReadOnlyList<FeedbackItem> Items, IReadOnlyList<FieldError> Errors)
{
    public bool IsValid => Errors.Count == 0;
}

/// <summary>
/// Reads <c>POST /v1/models/{model}/feedback</c> bodies: one object or an array of
/// <c>{ prediction_id, label }</c> or <c>{ entity_id, event_time, label }</c>. All or nothing:
/// any bad item makes the batch invalid, and every problem is reported with its item's position
/// (1-based "line") and field, in the same terms as the training labels endpoint. A body-level
/// problem (not an object or array, empty, too many items) has no line and the field "body".
/// </summary>
public static class FeedbackParser
{
    public const int MaxItems = 10_000;

    public const string PredictionIdField = "prediction_id";
    public const string EntityIdField = "entity_id";
    public const string EventTimeField = "event_time";
    public const string LabelField = "label";

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal) { PredictionIdField, EntityIdField, EventTimeField, LabelField };

    public static FeedbackBatch Parse(ModelSchema schema, JsonElement body, int maxItems = MaxItems)
    {
        ArgumentNullException.ThrowIfNull(schema);
        IReadOnlyList<JsonElement> elements = body.ValueKind switch
        {
            JsonValueKind.Object => [body],
            JsonValueKind.Array => [.. body.EnumerateArray()],
            _ => [],
        };
        if (elements.Count == 0 || elements.Count > maxItems)
        {
            return new FeedbackBatch([], [new FieldError("body",
                $"Send one feedback object or an array of 1 to {maxItems} of them" +
                (elements.Count > maxItems ? $"; this one has {elements.Count}." : "."), null, "format")]);
        }

        var items = new List<FeedbackItem>(elements.Count);
        var errors = new List<FieldError>();
        for (var i = 0; i < elements.Count; i++)
        {
            if (ParseItem(schema, elements[i], i + 1, errors) is { } item)
            {
                items.Add(item);
            }
        }

        return errors.Count > 0 ? new FeedbackBatch([], errors) : new FeedbackBatch(items, []);
    }

    private static FeedbackItem? ParseItem(ModelSchema schema, JsonElement element, long line, List<FieldError> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("body", "is not a JSON object.", line, "format"));
            return null;
        }

        var before = errors.Count;
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!Known.Contains(property.Name))
            {
                errors.Add(new(property.Name, "is not part of feedback (prediction_id, or entity_id and event_time; and label).", line, "unknown_column"));
                continue;
            }

            if (property.Value.ValueKind != JsonValueKind.Null)
            {
                values[property.Name] = property.Value;
            }
        }

        var label = Label(schema, values, line, errors);
        Guid? predictionId = null;
        string? entityId = null;
        DateTimeOffset? eventTime = null;
        if (values.TryGetValue(PredictionIdField, out var id))
        {
            if (values.ContainsKey(EntityIdField) || values.ContainsKey(EventTimeField))
            {
                errors.Add(new(PredictionIdField, "names the prediction; send either prediction_id, or entity_id and event_time, not both.", line, "format"));
            }
            else if (id.ValueKind == JsonValueKind.String && Guid.TryParse(id.GetString(), out var parsed))
            {
                predictionId = parsed;
            }
            else
            {
                errors.Add(new(PredictionIdField, $"{Shown(id)} is not a prediction id (a UUID).", line, "format"));
            }
        }
        else if (values.ContainsKey(EntityIdField) || values.ContainsKey(EventTimeField))
        {
            entityId = EntityId(values, line, errors);
            eventTime = EventTime(values, line, errors);
        }
        else
        {
            errors.Add(new(PredictionIdField, "is required (or entity_id and event_time): it names the prediction the label is for.", line, "required"));
        }

        return errors.Count == before ? new FeedbackItem(line, predictionId, entityId, eventTime, label!) : null;
    }

    private static object? Label(ModelSchema schema, Dictionary<string, JsonElement> values, long line, List<FieldError> errors)
    {
        if (!values.TryGetValue(LabelField, out var label))
        {
            errors.Add(new(LabelField, $"is required: the true {schema.Target.Name} for the prediction.", line, "required"));
            return null;
        }

        var text = label.ValueKind switch
        {
            JsonValueKind.String => label.GetString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => label.GetRawText(),
            _ => null,
        };
        if (text is null)
        {
            errors.Add(new(LabelField, $"must be a number, a boolean or a string, not {label.ValueKind.ToString().ToLowerInvariant()}.", line, "type"));
            return null;
        }

        if (text.Length == 0)
        {
            errors.Add(new(LabelField, $"is required: the true {schema.Target.Name} for the prediction.", line, "required"));
            return null;
        }

        return RowValidator.ValidateTarget(schema, text, LabelField, line, errors);
    }

    private static string? EntityId(Dictionary<string, JsonElement> values, long line, List<FieldError> errors)
    {
        if (!values.TryGetValue(EntityIdField, out var entity))
        {
            errors.Add(new(EntityIdField, "is required with event_time: the entity whose prediction the label is for.", line, "required"));
            return null;
        }

        // A string, as predict, uploads and the labels API take it (JsonValueTypes).
        var text = entity.ValueKind == JsonValueKind.String ? entity.GetString() : null;
        if (string.IsNullOrEmpty(text))
        {
            errors.Add(new(EntityIdField, "must be a non-empty string.", line, "type"));
            return null;
        }

        if (text.Length > RowValidator.MaxTextLength)
        {
            errors.Add(new(EntityIdField, $"is longer than {RowValidator.MaxTextLength} characters.", line, "length"));
            return null;
        }

        return text;
    }

    private static DateTimeOffset? EventTime(Dictionary<string, JsonElement> values, long line, List<FieldError> errors)
    {
        if (!values.TryGetValue(EventTimeField, out var time))
        {
            errors.Add(new(EventTimeField, "is required with entity_id: the label belongs to the entity's latest prediction at or before it.", line, "required"));
            return null;
        }

        if (time.ValueKind == JsonValueKind.String &&
            DateTimeOffset.TryParse(time.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return parsed;
        }

        errors.Add(new(EventTimeField, $"{Shown(time)} is not an ISO-8601 time.", line, "time"));
        return null;
    }

    private static string Shown(JsonElement value)
    {
        var text = value.ValueKind == JsonValueKind.String ? "'" + value.GetString() + "'" : value.GetRawText();
        return text.Length <= 42 ? text : text[..42] + "…";
    }
}
