using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A JSON body with a field its endpoint does not know is refused with a 400 naming that field,
/// instead of the field being dropped: a typo (<c>entityKey</c> for <c>entity_key</c>) or a field
/// the API does not have would otherwise change nothing while the caller believes it did, and on
/// a PUT that replaces a whole policy it silently reset everything to the defaults.
/// </summary>
public static class UnknownJsonFields
{
    /// <summary>Bodies up to this size are checked; a larger one is bound as it is (only bulk endpoints take them).</summary>
    public const long MaxCheckedBytes = 1024 * 1024;

    /// <summary>Checks every JSON body bound to a typed parameter; after authentication, so a caller without a key learns nothing.</summary>
    public static IApplicationBuilder UseUnknownJsonFieldCheck(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if (context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is not { RequestType: { } type } ||
            !request.HasJsonContentType() || request.ContentLength is > MaxCheckedBytes || request.ContentLength == 0)
        {
            await next(context);
            return;
        }

        var options = context.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var info = options.GetTypeInfo(type);
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            await next(context);
            return;
        }

        request.EnableBuffering();
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, context.RequestAborted);
        }
        catch (JsonException)
        {
            // Not JSON at all: binding reports it with its line and position.
            request.Body.Position = 0;
            await next(context);
            return;
        }

        request.Body.Position = 0;
        Dictionary<string, string[]> unknown;
        using (document)
        {
            unknown = Find(document.RootElement, info, options);
        }

        if (unknown.Count == 0)
        {
            await next(context);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ValidationProblemDetails(unknown)
            {
                Title = "The request has fields this endpoint does not know.",
                Detail = "Nothing was changed. Field names are snake_case, as in the API reference (/api/docs).",
                Status = StatusCodes.Status400BadRequest,
            },
        });
    });

    /// <summary>Every field of <paramref name="body"/> that the contract of <paramref name="info"/> has no member for, by its path.</summary>
    public static Dictionary<string, string[]> Find(JsonElement body, JsonTypeInfo info, JsonSerializerOptions options)
    {
        var unknown = new Dictionary<string, string[]>(StringComparer.Ordinal);
        Walk(body, info, options, "", unknown);
        return unknown;
    }

    private static void Walk(JsonElement element, JsonTypeInfo info, JsonSerializerOptions options, string path, Dictionary<string, string[]> unknown)
    {
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object when element.ValueKind == JsonValueKind.Object:
                if (info.Properties.Any(p => p.IsExtensionData))
                {
                    return;
                }

                var comparison = options.PropertyNameCaseInsensitive ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
                foreach (var property in element.EnumerateObject())
                {
                    var at = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                    if (info.Properties.FirstOrDefault(p => comparison.Equals(p.Name, property.Name)) is { } member)
                    {
                        Walk(property.Value, options.GetTypeInfo(member.PropertyType), options, at, unknown);
                    }
                    else
                    {
                        var known = string.Join(", ", info.Properties.Select(p => p.Name));
                        unknown[at] = [$"is not a field here; the fields are: {known}."];
                    }
                }

                break;

            case JsonTypeInfoKind.Enumerable when element.ValueKind == JsonValueKind.Array && info.ElementType is { } elementType:
                var item = options.GetTypeInfo(elementType);
                var index = 0;
                foreach (var value in element.EnumerateArray())
                {
                    Walk(value, item, options, $"{path}[{index++}]", unknown);
                }

                break;
        }
    }
}
