using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A body that is not valid JSON for the endpoint gets a 400 ValidationProblem naming the field
/// (the JSON path) and the reason in the API's own terms, instead of a bare 400, a 500, or the
/// serializer's message with .NET type names.
/// </summary>
public sealed partial class BadRequestBodyHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        var (field, message) = Describe(badRequest);
        context.Response.StatusCode = badRequest.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
            {
                Title = field is "body" or "form" || badRequest.InnerException is JsonException
                    ? "The request body could not be read."
                    : "A value in the request's path or query could not be read.",
                Status = badRequest.StatusCode,
            },
            Exception = exception,
        });
    }

    /// <summary>What a route or query value of this parameter type must be.</summary>
    private static string Expected(string type) => type.TrimEnd('?') switch
    {
        "Guid" => "is not a UUID.",
        "int" or "long" or "Int32" or "Int64" => "is not a whole number.",
        "bool" or "Boolean" => "is not true or false.",
        "DateTimeOffset" or "DateTime" => "is not an ISO-8601 time.",
        _ => "is not a valid value here.",
    };

    /// <summary>The field at fault and what is wrong with it, as a caller of the API would put it.</summary>
    public static (string Field, string Message) Describe(BadHttpRequestException badRequest)
    {
        if (badRequest.InnerException is not JsonException json)
        {
            var text = badRequest.Message;
            if (text.Contains("no body was provided", StringComparison.Ordinal))
            {
                return ("body", "is required: send a JSON object with Content-Type: application/json.");
            }

            if (text.StartsWith("Failed to bind parameter", StringComparison.Ordinal) && ParameterName().Match(text) is { Success: true } parameter)
            {
                return (parameter.Groups["name"].Value, $"'{parameter.Groups["value"].Value}' {Expected(parameter.Groups["type"].Value)}");
            }

            if (RequiredParameter().Match(text) is { Success: true } required)
            {
                return (required.Groups["name"].Value, "is required.");
            }

            // A form post (the console's sign-in) whose anti-forgery token is missing, expired or another site's.
            return text.Contains("anti-forgery", StringComparison.OrdinalIgnoreCase)
                ? ("form", "did not come from this site's page, or the page has expired: reload it and send the form again.")
                : ("body", text);
        }

        var field = json.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
        var raw = json.Message.Split(" Path:", 2)[0];
        if (ConvertedTo().Match(raw) is { Success: true } converted)
        {
            return (field, Expected(converted.Groups["type"].Value, field));
        }

        if (raw.Contains("isFinalBlock", StringComparison.Ordinal) || raw.Contains("end of the JSON payload", StringComparison.Ordinal))
        {
            return (field, "The JSON ends before it is complete.");
        }

        // The reader's own messages ("'x' is an invalid start of a value.") are about the text and carry no type names.
        return (field, raw.Split(" LineNumber:", 2)[0]);
    }

    /// <summary>
    /// What a value at <paramref name="field"/> looks like. The serializer names the type it was
    /// converting to: the field's own type, or, for a record bound through its constructor, the
    /// record that holds the field, whose member of that name gives the field's type.
    /// </summary>
    private static string Expected(string typeName, string field)
    {
        var inner = NullableOf().Match(typeName) is { Success: true } nullable ? nullable.Groups["inner"].Value : typeName;
        var type = FindType(inner);
        var member = LastSegment(field);
        if (type is { IsEnum: false, IsPrimitive: false } holder && holder != typeof(string) && member is not null &&
            holder.GetProperties().FirstOrDefault(p => string.Equals(JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), member, StringComparison.OrdinalIgnoreCase)) is { } property)
        {
            type = property.PropertyType;
        }

        return type is not null ? ExpectedOf(type, field == "body")
            // A generic type over another assembly's types is not found by its name; its shape is in the name.
            : inner.Contains("Dictionary`2", StringComparison.Ordinal) ? "must be a JSON object."
            : inner.Contains("List`1", StringComparison.Ordinal) || inner.Contains("Enumerable`1", StringComparison.Ordinal) ||
              inner.Contains("Collection`1", StringComparison.Ordinal) || inner.Contains("Set`1", StringComparison.Ordinal) || inner.EndsWith("[]", StringComparison.Ordinal)
                ? "must be an array."
                : "has a value of the wrong kind for this field.";
    }

    private static string ExpectedOf(Type type, bool wholeBody)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int) || type == typeof(long) || type == typeof(short))
        {
            return "must be a whole number.";
        }

        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return "must be a number.";
        }

        if (type == typeof(bool))
        {
            return "must be true or false.";
        }

        if (type == typeof(string))
        {
            return "must be a string.";
        }

        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
        {
            return "must be an ISO-8601 time such as 2026-01-31T12:00:00Z.";
        }

        if (type == typeof(Guid))
        {
            return "must be an id (a UUID such as 0190a6b2-7c1e-7d3a-9f00-2b4c5d6e7f80).";
        }

        if (type == typeof(TimeSpan))
        {
            return "must be a duration such as 00:05:00.";
        }

        if (type.IsEnum)
        {
            return $"must be one of: {string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.SnakeCaseLower.ConvertName))}.";
        }

        if (type.GetInterfaces().Append(type).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() is var d &&
                (d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>))))
        {
            return "must be a JSON object.";
        }

        if (typeof(System.Collections.IEnumerable).IsAssignableFrom(type))
        {
            return "must be an array.";
        }

        return wholeBody ? "must be a JSON object." : "must be a JSON object of the documented fields.";
    }

    /// <summary>The name of the member a path ends in (<c>features[0].min</c> → <c>min</c>); null when it ends in an index.</summary>
    private static string? LastSegment(string field) =>
        field == "body" || field.EndsWith(']') ? null : field[(field.LastIndexOf('.') + 1)..];

    private static Type? FindType(string name) =>
        AppDomain.CurrentDomain.GetAssemblies().Select(assembly => assembly.GetType(name, throwOnError: false)).FirstOrDefault(type => type is not null);

    [GeneratedRegex(@"could not be converted to (?<type>[^\s]+?)\.?$")]
    private static partial Regex ConvertedTo();

    [GeneratedRegex(@"^System\.Nullable`1\[(?<inner>.+)\]$")]
    private static partial Regex NullableOf();

    [GeneratedRegex("""^Required parameter "(?<type>[^"]*) (?<name>[^"\s]+)" was not provided""")]
    private static partial Regex RequiredParameter();

    [GeneratedRegex("""Failed to bind parameter "(?<type>[^"]*) (?<name>[^"\s]+)" from "(?<value>[^"]*)"\.""")]
    private static partial Regex ParameterName();
}
