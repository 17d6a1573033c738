using Flywheel.Console.Platform;
using Flywheel.Contracts;

namespace Flywheel.Console.Security;

/// <summary>
/// The operator signed in to this Blazor circuit with an API key, so the console acts as that
/// operator and the audit log names them. Scoped: one per circuit, gone with it (a reload starts
/// a new circuit, signed out). The key lives only here, on the server; it is never rendered, put
/// in a cookie or in browser storage. OpenID Connect sign-in replaces this with the console issue.
/// </summary>
public sealed class OperatorSession(PlatformClient platform)
{
    private string? _key;

    /// <summary>Raised when someone signs in or out, for the parts of the page that show it.</summary>
    public event Action? Changed;

    /// <summary>The key's name and roles as the registry knows them; null when nobody is signed in.</summary>
    public OwnKeyView? Identity { get; private set; }

    public bool SignedIn => Identity is not null;

    /// <summary>Approving, rejecting and any other change need the operator or admin role; the API checks again.</summary>
    public bool CanOperate => Identity?.Roles.Any(role => role is Roles.Operator or Roles.Admin) == true;

    /// <summary>The audit log and the prediction log need the viewer, operator or admin role; the API checks again.</summary>
    public bool CanRead => Identity?.Roles.Any(role => role is Roles.Viewer or Roles.Operator or Roles.Admin) == true;

    /// <summary>A viewer: may read everything an operator reads and change nothing, so pages offer no actions.</summary>
    public bool ReadOnly => CanRead && !CanOperate;

    /// <summary>The key to act with; null when nobody is signed in.</summary>
    internal string? Key => _key;

    /// <summary>Checks the key with the registry and keeps it when the registry knows it; the problem otherwise.</summary>
    public async Task<ApiProblem?> SignInAsync(string key, CancellationToken cancellationToken)
    {
        key = key.Trim();
        if (key.Length == 0)
        {
            return new ApiProblem(ApiProblemKind.Refused, "Enter an API key.");
        }

        var result = await platform.GetOwnKeyAsync(key, cancellationToken);
        if (result.Value is not { } identity)
        {
            return result.Problem;
        }

        _key = key;
        Identity = identity;
        Changed?.Invoke();
        return null;
    }

    public void SignOut()
    {
        _key = null;
        Identity = null;
        Changed?.Invoke();
    }
}
