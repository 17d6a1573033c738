using Microsoft.AspNetCore.Http.HttpResults;

namespace Flywheel.Registry;

/// <summary>What a client needs to know about the control plane it is talking to.</summary>
public static class PlatformApi
{
    public static RouteGroupBuilder MapPlatformApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("Platform");
        api.MapGet("/info", GetInfo).WithName("GetPlatformInfo").WithSummary("The control plane's name, version and environment.");
        return api;
    }

    public static Ok<PlatformInfo> GetInfo(IHostEnvironment environment) =>
        TypedResults.Ok(new PlatformInfo("flywheel-registry", BuildInfo.Version, environment.EnvironmentName));
}

public sealed record PlatformInfo(string Service, string Version, string Environment);
