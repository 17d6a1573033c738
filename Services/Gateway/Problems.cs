using Microsoft.AspNetCore.Mvc;

namespace Flywheel.Gateway;

/// <summary>The gateway's own refusals, as RFC 7807 ProblemDetails with the field at fault in <c>errors</c>.</summary>
internal static class Problems
{
    public static ValueTask WriteAsync(HttpContext context, int status, string title, string field, string message)
    {
        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
            {
                Status = status,
                Title = title,
                Detail = message,
            },
        });
    }
}
