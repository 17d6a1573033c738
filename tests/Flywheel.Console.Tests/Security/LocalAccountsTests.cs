using Flywheel.Console.Security;
using Microsoft.Extensions.Options;

namespace Flywheel.Console.Tests.Security;

public sealed class LocalAccountsTests
{
    private readonly SteppedTime _time = new();
    private readonly LocalAccounts _accounts;

    public LocalAccountsTests()
    {
        var options = new SignInOptions
        {
            ServiceKey = "fw_console",
            Accounts =
            [
                new LocalAccount { Name = "alice@contoso.com", Roles = ["operator"], PasswordHash = LocalAccounts.Hash("correct horse battery") },
                new LocalAccount { Name = "admin", Roles = ["admin"], Password = "generated-dev-password" },
            ],
        };
        _accounts = new LocalAccounts(new StaticMonitor(options), _time);
    }

    [Fact]
    public void A_hashed_or_generated_password_signs_in_its_account_and_nothing_else_does()
    {
        Assert.Equal("alice@contoso.com", _accounts.Check("alice@contoso.com", "correct horse battery").Account!.Name);
        Assert.Equal("admin", _accounts.Check(" ADMIN ", "generated-dev-password").Account!.Name);

        Assert.False(_accounts.Check("alice@contoso.com", "correct horse battery ").Succeeded);
        Assert.False(_accounts.Check("alice@contoso.com", "generated-dev-password").Succeeded);
        Assert.False(_accounts.Check("admin", "").Succeeded);
        Assert.False(_accounts.Check("mallory", "correct horse battery").Succeeded);
        Assert.False(_accounts.Check(null, null).Succeeded);
    }

    [Fact]
    public void After_five_wrong_passwords_the_name_is_locked_even_for_the_right_one_and_the_lockout_doubles()
    {
        for (var i = 0; i < LocalAccounts.FreeFailures; i++)
        {
            Assert.Null(_accounts.Check("admin", "guess" + i).LockedFor);
        }

        var sixth = _accounts.Check("admin", "guess");
        Assert.Equal(LocalAccounts.FirstLockout, sixth.LockedFor);
        var whileLocked = _accounts.Check("admin", "generated-dev-password");
        Assert.False(whileLocked.Succeeded);
        Assert.NotNull(whileLocked.LockedFor);

        // Another name is not affected.
        Assert.True(_accounts.Check("alice@contoso.com", "correct horse battery").Succeeded);

        _time.Advance(LocalAccounts.FirstLockout);
        Assert.Equal(LocalAccounts.FirstLockout * 2, _accounts.Check("admin", "guess").LockedFor);
        _time.Advance(LocalAccounts.FirstLockout * 2);
        Assert.True(_accounts.Check("admin", "generated-dev-password").Succeeded);
        // A success starts the count over.
        Assert.Null(_accounts.Check("admin", "guess").LockedFor);
    }

    [Fact]
    public void A_name_that_does_not_exist_is_throttled_like_one_that_does()
    {
        for (var i = 0; i < LocalAccounts.FreeFailures; i++)
        {
            _accounts.Check("nobody", "guess");
        }

        Assert.Equal(LocalAccounts.FirstLockout, _accounts.Check("nobody", "guess").LockedFor);
    }

    [Fact]
    public void Settings_that_cannot_work_are_named()
    {
        var problems = new SignInOptions
        {
            Accounts = [new LocalAccount { Name = "bad name;", Roles = ["admin"] }, new LocalAccount { Name = "x", Password = "p", PasswordHash = "h" }],
            Oidc = new OidcOptions { Authority = "http://login.example.com/", ClientId = "console" },
        }.Problems().ToList();

        Assert.Contains(problems, p => p.Contains("ServiceKey is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Accounts:0: the name", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Accounts:0: set exactly one", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Accounts:1: set exactly one", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("must be an https URL", StringComparison.Ordinal));
        Assert.Empty(new SignInOptions { ServiceKey = "k", Oidc = new OidcOptions { Authority = "http://127.0.0.1:5000/", ClientId = "c" } }.Problems());
    }

    private sealed class SteppedTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    private sealed class StaticMonitor(SignInOptions value) : IOptionsMonitor<SignInOptions>
    {
        public SignInOptions CurrentValue => value;

        public SignInOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<SignInOptions, string?> listener) => null;
    }
}
