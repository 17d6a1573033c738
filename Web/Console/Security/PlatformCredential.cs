using Flywheel.Security;

namespace Flywheel.Console.Security;

/// <summary>
/// What the console presents to the registry and the monitor when it acts or reads protected data:
/// either an operator's own API key (API-key sign-in), or the console's service key with the
/// signed-in person's name and roles (<see cref="ConsoleDelegation"/>), so the audit log names the
/// person. Never rendered: <see cref="ToString"/> says which kind it is and nothing secret.
/// </summary>
public sealed class PlatformCredential
{
    private readonly string _key;
    private readonly DelegatedPerson? _person;

    private PlatformCredential(string key, DelegatedPerson? person)
    {
        _key = key;
        _person = person;
    }

    /// <summary>An operator's own key: the platform sees that key.</summary>
    public static PlatformCredential ForKey(string apiKey) => new(apiKey, null);

    /// <summary>The console's key acting for a person: the platform sees the person.</summary>
    public static PlatformCredential ForPerson(string serviceKey, string name, IReadOnlyList<string> roles) =>
        new(serviceKey, new DelegatedPerson(name, roles));

    /// <summary>Puts the credential on one request (never on the shared client: each circuit acts as its own person).</summary>
    public void ApplyTo(HttpRequestMessage request)
    {
        request.Headers.Add(Platform.ApiClient.ApiKeyHeader, _key);
        if (_person is not null)
        {
            request.Headers.Add(ConsoleDelegation.UserHeader, _person.Name);
            request.Headers.Add(ConsoleDelegation.RolesHeader, string.Join(',', _person.Roles));
        }
    }

    public override string ToString() => _person is null ? "an API key" : $"the console key for {_person.Name}";
}
