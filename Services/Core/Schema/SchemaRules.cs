namespace Flywheel.Core.Schema;

/// <summary>Checks that a model schema is well formed before any data is accepted against it.</summary>
public static class SchemaRules
{
    public static IReadOnlyList<FieldError> Check(ModelSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var errors = new List<FieldError>();

        CheckName(schema.Name, "name", errors, allowHyphen: true);

        if (schema.Features.Count == 0)
        {
            errors.Add(new("features", "A model needs at least one feature."));
        }
        else if (schema.Features.Count > ModelSchema.MaxFeatures)
        {
            errors.Add(new("features", $"A model may have at most {ModelSchema.MaxFeatures} features; this one has {schema.Features.Count}."));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < schema.Features.Count; i++)
        {
            var feature = schema.Features[i];
            var field = $"features[{i}]";
            CheckName(feature.Name, field + ".name", errors, allowHyphen: false);
            if (ModelSchema.ReservedColumns.Contains(feature.Name))
            {
                errors.Add(new(field + ".name", $"'{feature.Name}' is a reserved column name."));
            }

            if (!seen.Add(feature.Name))
            {
                errors.Add(new(field + ".name", $"The feature '{feature.Name}' is defined more than once."));
            }

            CheckBounds(feature, field, errors);
        }

        CheckName(schema.Target.Name, "target.name", errors, allowHyphen: false);
        if (seen.Contains(schema.Target.Name))
        {
            errors.Add(new("target.name", $"The target '{schema.Target.Name}' is also a feature."));
        }

        if (ModelSchema.ReservedColumns.Contains(schema.Target.Name))
        {
            errors.Add(new("target.name", $"'{schema.Target.Name}' is a reserved column name."));
        }

        var expectedTarget = schema.Task switch
        {
            ModelTask.Binary => new[] { FeatureType.Boolean, FeatureType.Categorical },
            ModelTask.Multiclass => [FeatureType.Categorical],
            _ => [FeatureType.Numeric],
        };
        if (!expectedTarget.Contains(schema.Target.Type))
        {
            errors.Add(new("target.type",
                $"A {Lower(schema.Task)} model needs a {string.Join(" or ", expectedTarget.Select(Lower))} target, not {Lower(schema.Target.Type)}."));
        }

        if (schema.EntityKey is { } key)
        {
            CheckName(key, "entity_key", errors, allowHyphen: false);
        }

        return errors;
    }

    private static void CheckBounds(FeatureDefinition feature, string field, List<FieldError> errors)
    {
        if (feature.Type != FeatureType.Numeric && (feature.Min is not null || feature.Max is not null))
        {
            errors.Add(new(field, $"Only numeric features take min and max; '{feature.Name}' is {Lower(feature.Type)}."));
        }

        if (feature.Min is { } min && feature.Max is { } max && min > max)
        {
            errors.Add(new(field + ".min", $"min ({min}) is greater than max ({max})."));
        }

        if (feature.Min is { } lo && !double.IsFinite(lo))
        {
            errors.Add(new(field + ".min", "min must be a finite number."));
        }

        if (feature.Max is { } hi && !double.IsFinite(hi))
        {
            errors.Add(new(field + ".max", "max must be a finite number."));
        }

        if (feature.Categories is { } categories)
        {
            if (feature.Type != FeatureType.Categorical)
            {
                errors.Add(new(field + ".categories", $"Only categorical features take categories; '{feature.Name}' is {Lower(feature.Type)}."));
            }
            else if (categories.Count == 0)
            {
                errors.Add(new(field + ".categories", "An empty category list would reject every value; leave it out to accept any."));
            }
            else if (categories.Count > ModelSchema.MaxCategories)
            {
                errors.Add(new(field + ".categories", $"At most {ModelSchema.MaxCategories} categories are allowed."));
            }
            else if (categories.Distinct(StringComparer.Ordinal).Count() != categories.Count)
            {
                errors.Add(new(field + ".categories", "Categories must be distinct."));
            }
        }
    }

    private static void CheckName(string? name, string field, List<FieldError> errors, bool allowHyphen)
    {
        if (string.IsNullOrEmpty(name))
        {
            errors.Add(new(field, "A name is required."));
            return;
        }

        if (name.Length > ModelSchema.MaxNameLength)
        {
            errors.Add(new(field, $"Names are at most {ModelSchema.MaxNameLength} characters."));
        }

        var valid = char.IsAsciiLetterLower(name[0]) &&
            name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_' || (allowHyphen && c == '-'));
        if (!valid)
        {
            var allowed = allowHyphen ? "lower-case letters, digits, '_' and '-'" : "lower-case letters, digits and '_'";
            errors.Add(new(field, $"'{name}' must start with a lower-case letter and use only {allowed}."));
        }
    }

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}
