using System.Text;
using System.Text.Json;
using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;

namespace Flywheel.Registry.Ingestion;

/// <summary>One row of an upload as raw text values by column, with its line in the file; or why the line is not a row.</summary>
public sealed record SourceRow(long Line, IReadOnlyDictionary<string, string?> Values, string? Problem = null)
{
    /// <summary>Values of a JSON row whose JSON type does not fit their column (<see cref="JsonValueTypes"/>); they replace what the text validation says of those fields.</summary>
    public IReadOnlyList<FieldError> TypeErrors { get; init; } = [];

    /// <summary>The text validation of the row, with its JSON type errors in place of what it said of those fields.</summary>
    public RowValidation WithTypeErrors(RowValidation validation)
    {
        if (TypeErrors.Count == 0)
        {
            return validation;
        }

        var typed = TypeErrors.Select(e => e.Field).ToHashSet(StringComparer.Ordinal);
        return validation with { Errors = [.. TypeErrors, .. validation.Errors.Where(e => !typed.Contains(e.Field))] };
    }
}

/// <summary>
/// Streams rows out of CSV (with a header) or NDJSON bodies; never holds more than one record.
/// Reading is synchronous (the CSV reader works a character at a time), so the upload endpoint
/// allows synchronous I/O for its own request only.
/// </summary>
public static class RowSources
{
    public const int MaxLineLength = CsvRecordReader.DefaultMaxRecordLength;

    /// <summary>Strict UTF-8: a body with invalid bytes is refused rather than read as replacement characters.</summary>
    public static StreamReader Open(Stream body) =>
        new(body, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);

    public static IEnumerable<SourceRow> Csv(TextReader text, Func<IReadOnlyList<string>, string?> checkHeader, CancellationToken cancellationToken)
    {
        var reader = new CsvRecordReader(text, MaxLineLength);
        var header = reader.Read() ?? throw new MalformedDataException(1, "the file is empty; it needs a header row.");
        header = [.. header.Select(h => h.Trim())];
        if (header.Length > 0 && header[0].StartsWith('\uFEFF'))
        {
            header[0] = header[0][1..];
        }

        if (header.Distinct(StringComparer.Ordinal).Count() != header.Length)
        {
            throw new MalformedDataException(1, "the header names a column more than once.");
        }

        if (checkHeader(header) is { } headerProblem)
        {
            throw new MalformedDataException(1, headerProblem);
        }

        while (reader.Read() is { } fields)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (fields is [""])
            {
                continue; // a blank line
            }

            var values = new Dictionary<string, string?>(header.Length, StringComparer.Ordinal);
            for (var i = 0; i < Math.Min(header.Length, fields.Length); i++)
            {
                values[header[i]] = fields[i];
            }

            // A row with too few or too many fields is refused on its own (quarantined with the
            // fields it has, by position); the records after it are still read as they were written.
            yield return fields.Length == header.Length
                ? new SourceRow(reader.Line, values)
                : new SourceRow(reader.Line, values, $"has {fields.Length} fields; the header has {header.Length}.");
        }
    }

    // Each feature's type by name, once per schema (an upload's rows share one), not searched per value.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ModelSchema, Dictionary<string, FeatureType>> FeatureTypes = new();

    public static IEnumerable<SourceRow> Ndjson(TextReader text, ModelSchema schema, CancellationToken cancellationToken)
    {
        var line = 0L;
        var buffer = new StringBuilder();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            buffer.Clear();
            line++;
            int c;
            while ((c = text.Read()) != -1 && c != '\n')
            {
                if (buffer.Length >= MaxLineLength)
                {
                    throw new MalformedDataException(line, $"the line is longer than {MaxLineLength} characters.");
                }

                buffer.Append((char)c);
            }

            if (c == -1 && buffer.Length == 0)
            {
                yield break;
            }

            var json = buffer.ToString().TrimEnd('\r');
            if (json.Trim().Length > 0)
            {
                yield return Parse(line, json, schema);
            }

            if (c == -1)
            {
                yield break;
            }
        }
    }

    /// <summary>One JSON object per line.</summary>
    public static SourceRow Parse(long line, string json, ModelSchema schema)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(line, document.RootElement, schema);
        }
        catch (JsonException ex)
        {
            return new SourceRow(line, new Dictionary<string, string?>(), $"is not valid JSON: {ex.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0]}");
        }
    }

    /// <summary>
    /// A JSON object's values as their invariant text, so one validator serves every format, with
    /// the values whose JSON type does not fit the schema's column in <see cref="SourceRow.TypeErrors"/>
    /// (a number sent as a string is refused here, as predict refuses it; the target is not
    /// checked for its JSON type, as labels are not).
    /// </summary>
    public static SourceRow FromJson(long line, JsonElement element, ModelSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (element.ValueKind != JsonValueKind.Object)
        {
            return new SourceRow(line, new Dictionary<string, string?>(), "is not a JSON object.");
        }

        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var featureTypes = FeatureTypes.GetValue(schema, s => s.Features.ToDictionary(f => f.Name, f => f.Type, StringComparer.Ordinal));
        List<FieldError>? typeErrors = null;
        foreach (var property in element.EnumerateObject())
        {
            var value = property.Value;
            values[property.Name] = value.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => value.GetString(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => value.GetRawText(),
            };
            // The target is a label and read from its text, as labels and feedback are.
            var problem = featureTypes.TryGetValue(property.Name, out var type)
                ? JsonValueTypes.FeatureProblem(type, value)
                : ModelSchema.ReservedColumns.Contains(property.Name)
                    ? JsonValueTypes.TextProblem(value)
                    : null;
            if (problem is not null)
            {
                (typeErrors ??= []).Add(new FieldError(property.Name, problem, line, "type"));
            }
        }

        return new SourceRow(line, values) { TypeErrors = typeErrors ?? [] };
    }
}
