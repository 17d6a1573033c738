using System.Text.Json;
using Flywheel.Console.Display;

namespace Flywheel.Console.Versions;

/// <summary>How a version's rows were split into training and held-out sets.</summary>
public sealed record SplitSummary(string? Method, long? TrainRows, long? TestRows)
{
    /// <summary>"stratified: 800 training, 200 held out".</summary>
    public string Describe() =>
        $"{Method ?? "unknown method"}: {Rows(TrainRows)} training, {Rows(TestRows)} held out";

    private static string Rows(long? rows) => rows is { } count ? Format.Count(count) : "?";

    /// <summary>
    /// Reads the lineage's <c>split</c>, which the registry passes on as stored: its member
    /// names may be snake_case (<c>train_rows</c>) or camelCase (<c>trainRows</c>), so both are read.
    /// </summary>
    public static SplitSummary? From(JsonElement? split)
    {
        if (split is not { ValueKind: JsonValueKind.Object } element)
        {
            return null;
        }

        string? method = null;
        long? train = null, test = null;
        foreach (var property in element.EnumerateObject())
        {
            switch (property.Name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant())
            {
                case "method" when property.Value.ValueKind == JsonValueKind.String:
                    method = property.Value.GetString();
                    break;
                case "trainrows" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var rows):
                    train = rows;
                    break;
                case "testrows" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var rows):
                    test = rows;
                    break;
            }
        }

        return new(method, train, test);
    }
}
