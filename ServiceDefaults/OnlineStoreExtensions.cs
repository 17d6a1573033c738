using Azure.Core;
using Flywheel.Contracts;
using Microsoft.Extensions.Configuration;
using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Redis (the online feature store and caches) through Aspire.StackExchange.Redis. A connection
/// string with a password is used as it is (local); one with <c>user=</c> and no password signs
/// in with Microsoft Entra ID, as Azure Cache for Redis expects: the user is the service
/// identity's principal id and the password is an access token, renewed before it expires and
/// re-presented on every open connection.
/// </summary>
public static class OnlineStoreExtensions
{
    public static TBuilder AddOnlineStore<TBuilder>(this TBuilder builder, string connectionName = ResourceNames.OnlineStore)
        where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        var useEntra = connectionString is not null && string.IsNullOrEmpty(ConfigurationOptions.Parse(connectionString).Password);
        builder.AddRedisClient(connectionName, configureOptions: options =>
        {
            if (useEntra)
            {
                var user = options.User ?? throw new InvalidOperationException(
                    $"ConnectionStrings:{connectionName} has neither a password nor a user: for Entra sign-in, set user=<principal id of the identity>.");
                options.Defaults = new EntraRedisOptions(AzureIdentity.CreateCredential(builder.Configuration), user);
            }
        });
        return builder;
    }
}

/// <summary>Supplies an Entra access token as the Redis password and re-authenticates connections as it renews it.</summary>
internal sealed class EntraRedisOptions : DefaultOptionsProvider, IDisposable
{
    private static readonly TokenRequestContext RedisScope = new(["https://redis.azure.com/.default"]);
    private static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(10);

    private readonly TokenCredential _credential;
    private readonly string _user;
    private readonly Lock _lock = new();
    private readonly List<WeakReference<ConnectionMultiplexer>> _connections = [];
    private readonly Timer _renewal;
    private AccessToken _token;

    public EntraRedisOptions(TokenCredential credential, string user)
    {
        _credential = credential;
        _user = user;
        _renewal = new Timer(_ => _ = RenewAsync(), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    public override string User => _user;

    /// <summary>Read whenever a connection is (re)established; a fresh token is fetched when the current one is close to expiry.</summary>
    public override string Password
    {
        get
        {
            lock (_lock)
            {
                if (_token.ExpiresOn - DateTimeOffset.UtcNow < RenewBefore)
                {
                    _token = _credential.GetToken(RedisScope, CancellationToken.None);
                }

                return _token.Token;
            }
        }
    }

    public override Task AfterConnectAsync(ConnectionMultiplexer muxer, Action<string> log)
    {
        lock (_lock)
        {
            _connections.Add(new WeakReference<ConnectionMultiplexer>(muxer));
        }

        return base.AfterConnectAsync(muxer, log);
    }

    /// <summary>Connections authenticated with a token that is about to expire are re-authenticated with a new one.</summary>
    private async Task RenewAsync()
    {
        try
        {
            List<ConnectionMultiplexer> open;
            lock (_lock)
            {
                if (_token.ExpiresOn - DateTimeOffset.UtcNow >= RenewBefore)
                {
                    return;
                }

                open = [.. _connections.Select(c => c.TryGetTarget(out var m) ? m : null).OfType<ConnectionMultiplexer>()];
                _connections.RemoveAll(c => !c.TryGetTarget(out _));
            }

            var renewed = await _credential.GetTokenAsync(RedisScope, CancellationToken.None);
            lock (_lock)
            {
                _token = renewed;
            }

            foreach (var server in open.SelectMany(m => m.GetServers()).Where(s => s.IsConnected))
            {
                await server.ExecuteAsync("AUTH", _user, renewed.Token);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or global::Azure.Identity.AuthenticationFailedException
            or global::Azure.Identity.CredentialUnavailableException or global::Azure.RequestFailedException)
        {
            // The next attempt is a minute away; a connection that drops meanwhile reconnects with Password above.
        }
    }

    public void Dispose() => _renewal.Dispose();
}
