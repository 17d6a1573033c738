using System.Security.Claims;
using Flywheel.Console.Platform;
using Flywheel.Contracts;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.Options;

namespace Flywheel.Console.Security;

/// <summary>How the person in this circuit signed in.</summary>
public enum SignInMethod
{
    /// <summary>With their own API key, held by this circuit only; the platform sees the key.</summary>
    ApiKey,

    /// <summary>With a local account; the console's cookie holds the person, the platform sees them through the console key.</summary>
    Local,

    /// <summary>With OpenID Connect (Microsoft Entra ID); as <see cref="Local"/>.</summary>
    Oidc,
}

/// <summary>Who is signed in: the name the audit log shows, the Flywheel roles, how, and for an API key its id.</summary>
public sealed record SignedInIdentity(string Name, IReadOnlyList<string> Roles, SignInMethod Method, Guid? KeyId = null)
{
    /// <summary>Signed in with the console's cookie (a local account or OpenID Connect): signing out is a form post that clears it.</summary>
    public bool ByCookie => Method is not SignInMethod.ApiKey;
}

/// <summary>
/// The person this Blazor circuit acts as, so the audit log names them. Scoped: one per circuit.
/// A person signed in with a local account or OpenID Connect comes from the circuit's
/// authentication state (the console's cookie); the console then acts with its own service key
/// and the person's name and roles (<see cref="PlatformCredential.ForPerson"/>). Signing in with an
/// API key still works: the key lives only here, on the server, never rendered, put in a cookie or
/// in browser storage, and a reload forgets it.
/// </summary>
public sealed class OperatorSession
{
    private readonly PlatformClient _platform;
    private readonly SignInOptions _options;

    public OperatorSession(PlatformClient platform, AuthenticationStateProvider authentication, IOptions<SignInOptions> options)
    {
        _platform = platform;
        _options = options.Value;
        // The circuit's state is known before any component asks (it comes from the connecting request);
        // a later change (a provider that completes late) is picked up as it comes.
        var state = authentication.GetAuthenticationStateAsync();
        if (state.IsCompletedSuccessfully)
        {
            FromPrincipal(state.Result.User);
        }
        else
        {
            _ = ApplyAsync(state);
        }

        authentication.AuthenticationStateChanged += changed => _ = ApplyAsync(changed);
    }

    /// <summary>Raised when someone signs in or out, for the parts of the page that show it.</summary>
    public event Action? Changed;

    /// <summary>The person's name and roles; null when nobody is signed in.</summary>
    public SignedInIdentity? Identity { get; private set; }

    public bool SignedIn => Identity is not null;

    /// <summary>Approving, rejecting and any other change need the operator or admin role; the API checks again.</summary>
    public bool CanOperate => Identity?.Roles.Any(role => role is Roles.Operator or Roles.Admin) == true;

    /// <summary>The audit log and the prediction log need the viewer, operator or admin role; the API checks again.</summary>
    public bool CanRead => Identity?.Roles.Any(role => role is Roles.Viewer or Roles.Operator or Roles.Admin) == true;

    /// <summary>A viewer: may read everything an operator reads and change nothing, so pages offer no actions.</summary>
    public bool ReadOnly => CanRead && !CanOperate;

    /// <summary>What to act with; null when nobody is signed in.</summary>
    public PlatformCredential? Credential { get; private set; }

    /// <summary>Checks the key with the registry and keeps it when the registry knows it; the problem otherwise.</summary>
    public async Task<ApiProblem?> SignInAsync(string key, CancellationToken cancellationToken)
    {
        key = key.Trim();
        if (key.Length == 0)
        {
            return new ApiProblem(ApiProblemKind.Refused, "Enter an API key.");
        }

        var credential = PlatformCredential.ForKey(key);
        var result = await _platform.GetOwnKeyAsync(credential, cancellationToken);
        if (result.Value is not { } own)
        {
            return result.Problem;
        }

        Credential = credential;
        Identity = new SignedInIdentity(own.Name, own.Roles, SignInMethod.ApiKey, own.Id);
        Changed?.Invoke();
        return null;
    }

    /// <summary>Forgets an API key at once. A cookie sign-in ends with the sign-out form post instead, which clears the cookie.</summary>
    public void SignOut()
    {
        Credential = null;
        Identity = null;
        Changed?.Invoke();
    }

    private async Task ApplyAsync(Task<AuthenticationState> state)
    {
        FromPrincipal((await state).User);
        Changed?.Invoke();
    }

    private void FromPrincipal(ClaimsPrincipal user)
    {
        if (Identity?.Method is SignInMethod.ApiKey)
        {
            // A key signed in within this circuit stays until signed out.
            return;
        }

        if (user.Identity is not { IsAuthenticated: true, Name: { Length: > 0 } name } || _options.ServiceKey is not { Length: > 0 } serviceKey)
        {
            Identity = null;
            Credential = null;
            return;
        }

        var roles = user.FindAll(ClaimTypes.Role).Select(claim => claim.Value).Where(Roles.People.Contains).Distinct().ToList();
        var method = user.FindFirstValue(ConsolePrincipal.MethodClaim) == ConsolePrincipal.Oidc ? SignInMethod.Oidc : SignInMethod.Local;
        Identity = new SignedInIdentity(name, roles, method);
        Credential = PlatformCredential.ForPerson(serviceKey, name, roles);
    }
}
