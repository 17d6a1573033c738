using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Flywheel.Console.Security;

/// <summary>The outcome of a password sign-in: the account, or why not (without saying whether the name exists).</summary>
public sealed record PasswordCheck(LocalAccount? Account, TimeSpan? LockedFor)
{
    public bool Succeeded => Account is not null;
}

/// <summary>
/// Checks a name and password against the configured local accounts, with a per-name backoff:
/// after <see cref="FreeFailures"/> wrong passwords in a row a name is locked for 30 s, doubling
/// with each further failure up to 15 minutes, so guessing is slow while a typo costs nothing.
/// Names that do not exist are throttled the same way and take as long to refuse, so neither the
/// answer nor its timing says which part was wrong.
/// </summary>
public sealed class LocalAccounts(IOptionsMonitor<SignInOptions> options, TimeProvider time)
{
    public const int FreeFailures = 5;
    public static readonly TimeSpan FirstLockout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxLockout = TimeSpan.FromMinutes(15);

    /// <summary>Bounds the memory a stream of made-up names can take; the oldest entries go first.</summary>
    private const int MaxTrackedNames = 10_000;

    private static readonly PasswordHasher<LocalAccount> Hasher = new();

    // Verified against for unknown names, so they cost the same PBKDF2 work as known ones.
    private static readonly string DecoyHash = Hasher.HashPassword(new LocalAccount(), Guid.NewGuid().ToString());

    private readonly ConcurrentDictionary<string, Failures> _failures = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The ASP.NET Core Identity hash of a password, for <c>Flywheel:Console:Accounts:n:PasswordHash</c>.</summary>
    public static string Hash(string password) => Hasher.HashPassword(new LocalAccount(), password);

    public PasswordCheck Check(string? name, string? password)
    {
        name = name?.Trim() ?? "";
        password ??= "";
        var now = time.GetUtcNow();
        if (_failures.TryGetValue(name, out var failures) && failures.LockedUntil > now)
        {
            return new PasswordCheck(null, failures.LockedUntil - now);
        }

        var account = options.CurrentValue.Accounts.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase));
        bool valid;
        if (account is null)
        {
            // The same PBKDF2 work as a known name, and always a refusal.
            VerifyDecoy(password);
            valid = false;
        }
        else
        {
            valid = Verify(account, password);
        }

        if (valid)
        {
            _failures.TryRemove(name, out _);
            return new PasswordCheck(account, null);
        }

        var updated = _failures.AddOrUpdate(name,
            _ => Failures.First(now),
            (_, previous) => previous.Next(now));
        Trim();
        return new PasswordCheck(null, updated.LockedUntil > now ? updated.LockedUntil - now : null);
    }

    private static bool Verify(LocalAccount account, string password)
    {
        if (!string.IsNullOrEmpty(account.PasswordHash))
        {
            try
            {
                return Hasher.VerifyHashedPassword(account, account.PasswordHash, password) != PasswordVerificationResult.Failed;
            }
            catch (FormatException)
            {
                return false;
            }
        }

        // The generated development password: compared in constant time, by digest so lengths do not leak.
        return account.Password is { Length: > 0 } expected &&
            CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(password)));
    }

    private static void VerifyDecoy(string password) => Hasher.VerifyHashedPassword(new LocalAccount(), DecoyHash, password);

    private void Trim()
    {
        if (_failures.Count <= MaxTrackedNames)
        {
            return;
        }

        foreach (var (name, _) in _failures.OrderBy(pair => pair.Value.Last).Take(_failures.Count - MaxTrackedNames))
        {
            _failures.TryRemove(name, out _);
        }
    }

    private sealed record Failures(int Count, DateTimeOffset Last, DateTimeOffset LockedUntil)
    {
        public static Failures First(DateTimeOffset now) => new Failures(0, now, DateTimeOffset.MinValue).Next(now);

        public Failures Next(DateTimeOffset now)
        {
            // A quiet quarter of an hour forgives earlier typos.
            var count = now - Last > MaxLockout && LockedUntil <= now ? 1 : Count + 1;
            if (count <= FreeFailures)
            {
                return new Failures(count, now, DateTimeOffset.MinValue);
            }

            var doublings = Math.Min(count - FreeFailures - 1, 10);
            var lockout = TimeSpan.FromTicks(Math.Min(FirstLockout.Ticks << doublings, MaxLockout.Ticks));
            return new Failures(count, now, now + lockout);
        }
    }
}
