using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The credential a service uses where it runs the Azure way. On Azure Container Apps each
/// service has its own user-assigned managed identity, named by <c>AZURE_CLIENT_ID</c>; elsewhere
/// (a developer's machine) the usual developer credentials apply.
/// </summary>
public static class AzureIdentity
{
    public static TokenCredential CreateCredential(IConfiguration configuration) =>
        configuration["AZURE_CLIENT_ID"] is { Length: > 0 } clientId
            ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
            : new DefaultAzureCredential();
}
