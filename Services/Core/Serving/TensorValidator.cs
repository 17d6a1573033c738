using System.Text.Json;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>
/// Validates an Open Inference Protocol (V2) infer body: one named tensor per feature, datatype
/// FP32 for numeric features, FP32 or BOOL for boolean ones and BYTES for categorical ones, shape
/// [N, 1] (or [N]), the same N everywhere and exactly N values in <c>data</c>. A nullable feature
/// may be left out or carry null elements. Errors are keyed <c>inputs[0].shape</c>,
/// <c>inputs[1].data[3]</c>.
/// </summary>
public static class TensorValidator
{
    public const string InputsField = "inputs";

    private static readonly HashSet<string> TopLevel = new(StringComparer.Ordinal) { "id", InputsField, "outputs", "parameters" };

    /// <summary>The datatype the V2 metadata declares for a feature's input tensor.</summary>
    public static string Datatype(FeatureType type) => type == FeatureType.Categorical ? "BYTES" : "FP32";

    public static ValidatedRequest Validate(ModelSchema schema, ServingSettings settings, JsonElement body, int maxInstances)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(settings);
        if (body.ValueKind != JsonValueKind.Object)
        {
            return ValidatedRequest.Invalid(new FieldError("body", $"must be a JSON object with \"{InputsField}\", not {FeatureValues.Describe(body)}.", Code: "type"));
        }

        var errors = new List<FieldError>();
        foreach (var property in body.EnumerateObject().Where(p => !TopLevel.Contains(p.Name)))
        {
            errors.Add(new(property.Name, "is not part of an infer request (id, inputs, outputs, parameters).", Code: "unknown_column"));
        }

        if (body.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.String)
        {
            errors.Add(new("id", "must be a string.", Code: "type"));
        }

        if (!body.TryGetProperty(InputsField, out var inputs) || inputs.ValueKind != JsonValueKind.Array || inputs.GetArrayLength() == 0)
        {
            errors.Add(new(InputsField, "is required: a non-empty array of named tensors, one per feature.", Code: "required"));
            return new(errors, [], []);
        }

        var features = schema.Features.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var columns = new Dictionary<string, (JsonElement Data, string Field)>(StringComparer.Ordinal);
        int? rows = null;
        var index = 0;
        foreach (var input in inputs.EnumerateArray())
        {
            var prefix = $"{InputsField}[{index++}]";
            if (input.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new(prefix, $"must be a tensor object, not {FeatureValues.Describe(input)}.", Code: "type"));
                continue;
            }

            if (!input.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
            {
                errors.Add(new($"{prefix}.name", "is required: the feature this tensor carries.", Code: "required"));
                continue;
            }

            var name = nameElement.GetString()!;
            if (!features.TryGetValue(name, out var feature))
            {
                errors.Add(new($"{prefix}.name", $"'{name}' is not an input of this model ({string.Join(", ", schema.Features.Select(f => f.Name))}).", Code: "unknown_column"));
                continue;
            }

            if (columns.ContainsKey(name))
            {
                errors.Add(new($"{prefix}.name", $"'{name}' is given more than once.", Code: "duplicate"));
                continue;
            }

            var datatype = input.TryGetProperty("datatype", out var datatypeElement) && datatypeElement.ValueKind == JsonValueKind.String
                ? datatypeElement.GetString()
                : null;
            var accepted = feature.Type switch
            {
                FeatureType.Categorical => datatype == "BYTES",
                FeatureType.Boolean => datatype is "FP32" or "BOOL",
                _ => datatype == "FP32",
            };
            if (!accepted)
            {
                errors.Add(new($"{prefix}.datatype", $"must be {(feature.Type == FeatureType.Boolean ? "FP32 or BOOL" : Datatype(feature.Type))} for the {feature.Type.ToString().ToLowerInvariant()} feature '{name}', not {datatype ?? "missing"}.", Code: "type"));
                continue;
            }

            var length = Shape(input, prefix, errors);
            if (length is null)
            {
                continue;
            }

            if (length > maxInstances)
            {
                errors.Add(new($"{prefix}.shape", $"holds {length} rows; at most {maxInstances} are allowed per request.", Code: "length"));
                continue;
            }

            if (rows is { } expected && expected != length)
            {
                errors.Add(new($"{prefix}.shape", $"has {length} rows but the other inputs have {expected}.", Code: "shape"));
                continue;
            }

            rows = length;
            if (!input.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                errors.Add(new($"{prefix}.data", "is required: a flat array of the tensor's values.", Code: "required"));
                continue;
            }

            if (data.GetArrayLength() != length)
            {
                errors.Add(new($"{prefix}.data", $"holds {data.GetArrayLength()} values but the shape says {length}.", Code: "shape"));
                continue;
            }

            columns[name] = (data, $"{prefix}.data");
        }

        foreach (var feature in schema.Features.Where(f => !f.Nullable && !columns.ContainsKey(f.Name)))
        {
            if (!errors.Any(e => e.Field.StartsWith(InputsField + "[", StringComparison.Ordinal)))
            {
                errors.Add(new(InputsField, $"has no tensor for the feature '{feature.Name}'.", Code: "required"));
            }
        }

        if (errors.Count > 0 || rows is not { } count)
        {
            return new(errors, [], []);
        }

        var table = new List<IReadOnlyDictionary<string, object?>>(count);
        for (var i = 0; i < count; i++)
        {
            table.Add(new Dictionary<string, object?>(schema.Features.Count, StringComparer.Ordinal));
        }

        foreach (var feature in schema.Features)
        {
            if (!columns.TryGetValue(feature.Name, out var column))
            {
                foreach (var row in table)
                {
                    ((Dictionary<string, object?>)row)[feature.Name] = null;
                }

                continue;
            }

            var i = 0;
            foreach (var value in column.Data.EnumerateArray())
            {
                var element = value;
                if (feature.Type == FeatureType.Boolean && value.ValueKind == JsonValueKind.Number)
                {
                    // FP32 booleans arrive as 1 and 0, the encoding the model itself takes.
                    element = value.TryGetDouble(out var number) && number is 0 or 1
                        ? JsonSerializer.SerializeToElement(number == 1)
                        : value;
                }

                ((Dictionary<string, object?>)table[i])[feature.Name] = FeatureValues.Read(feature, element, settings, $"{column.Field}[{i}]", errors);
                i++;
            }
        }

        return errors.Count == 0 ? new(errors, table, new string?[count]) : new(errors, [], []);
    }

    private static int? Shape(JsonElement input, string prefix, List<FieldError> errors)
    {
        if (!input.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new($"{prefix}.shape", "is required: [N, 1].", Code: "required"));
            return null;
        }

        var dims = shape.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt32(out var n) ? n : -1).ToArray();
        var valid = dims.Length switch
        {
            1 => dims[0] >= 1,
            2 => dims[0] >= 1 && dims[1] == 1,
            _ => false,
        };
        if (!valid)
        {
            errors.Add(new($"{prefix}.shape", $"must be [N, 1] with N ≥ 1, not {shape.GetRawText()}.", Code: "shape"));
            return null;
        }

        return dims[0];
    }
}
