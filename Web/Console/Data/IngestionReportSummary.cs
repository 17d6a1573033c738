using System.Text.Json;
using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Data;

/// <summary>
/// What one field went through in an ingestion: the share of accepted rows missing it, and how
/// many rejections it caused, by kind. <see cref="Other"/> counts the kinds without a column of
/// their own (<c>length</c>, <c>time</c>, <c>unknown_column</c>, <c>format</c>…), named in <see cref="OtherKinds"/>.
/// </summary>
public sealed record FieldQuality(
    string Field,
    double? MissingRate,
    long Required,
    long WrongType,
    long OutOfRange,
    long UnknownCategory,
    long Other,
    IReadOnlyDictionary<string, long> OtherKinds)
{
    public long Rejections => Required + WrongType + OutOfRange + UnknownCategory + Other;

    /// <summary>"length: 2, time: 1", or "0".</summary>
    public string DescribeOther() =>
        Other == 0 ? "0" : string.Join(", ", OtherKinds.Select(kind => $"{kind.Key}: {Format.Count(kind.Value)}"));
}

/// <summary>One problem of one quarantined row, as a table shows it.</summary>
public sealed record QuarantineLine(long Line, string Field, string Message);

public static class IngestionReportSummary
{
    public const string Required = "required";
    public const string Type = "type";
    public const string Range = "range";
    public const string Category = "category";

    /// <summary>
    /// Reads the report the registry stores with an ingestion,
    /// <c>{ "missing_rates": { field: rate }, "problems": { field: { kind: count } } }</c>:
    /// the schema's fields first, in the report's order, then fields only problems name
    /// (a column that is not a feature, the row's line itself) by name.
    /// </summary>
    public static IReadOnlyList<FieldQuality> Fields(JsonElement? report)
    {
        if (report is not { ValueKind: JsonValueKind.Object } root)
        {
            return [];
        }

        var missing = new Dictionary<string, double>(StringComparer.Ordinal);
        var order = new List<string>();
        if (root.TryGetProperty("missing_rates", out var rates) && rates.ValueKind == JsonValueKind.Object)
        {
            foreach (var rate in rates.EnumerateObject())
            {
                if (rate.Value.ValueKind == JsonValueKind.Number && rate.Value.TryGetDouble(out var value))
                {
                    missing[rate.Name] = value;
                    order.Add(rate.Name);
                }
            }
        }

        var problems = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        if (root.TryGetProperty("problems", out var byField) && byField.ValueKind == JsonValueKind.Object)
        {
            foreach (var field in byField.EnumerateObject().Where(f => f.Value.ValueKind == JsonValueKind.Object))
            {
                problems[field.Name] = field.Value.EnumerateObject()
                    .Where(kind => kind.Value.ValueKind == JsonValueKind.Number && kind.Value.TryGetInt64(out _))
                    .ToDictionary(kind => kind.Name, kind => kind.Value.GetInt64(), StringComparer.Ordinal);
            }
        }

        order.AddRange(problems.Keys.Where(field => !missing.ContainsKey(field)).Order(StringComparer.Ordinal));
        return [.. order.Select(field => Quality(field, missing, problems))];
    }

    /// <summary>Each problem of each row on its own line, rows in line order, problems as the row reported them.</summary>
    public static IReadOnlyList<QuarantineLine> Lines(IEnumerable<QuarantineEntryView> quarantine) =>
        [.. quarantine.OrderBy(row => row.Line).SelectMany(row => row.Errors.Select(error => new QuarantineLine(row.Line, error.Field, error.Message)))];

    /// <summary>An ingestion id as an operator pastes it: surrounding spaces and quotes are forgiven.</summary>
    public static Guid? ParseId(string? text) =>
        Guid.TryParse(text?.Trim().Trim('"', '\''), out var id) ? id : null;

    private static FieldQuality Quality(string field, Dictionary<string, double> missing, Dictionary<string, Dictionary<string, long>> problems)
    {
        var kinds = problems.GetValueOrDefault(field) ?? [];
        var others = kinds.Where(k => k.Key is not (Required or Type or Range or Category))
            .OrderBy(k => k.Key, StringComparer.Ordinal)
            .ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal);
        return new(
            field,
            missing.TryGetValue(field, out var rate) ? rate : null,
            kinds.GetValueOrDefault(Required),
            kinds.GetValueOrDefault(Type),
            kinds.GetValueOrDefault(Range),
            kinds.GetValueOrDefault(Category),
            others.Values.Sum(),
            others);
    }
}
