using Flywheel.Console.Security;
using Flywheel.Security;
using Microsoft.AspNetCore.Http;

namespace Flywheel.Console.Tests.Security;

public sealed class ConsoleDelegationTests
{
    [Theory]
    [InlineData("alice@contoso.com")]
    [InlineData("Alice O'Neil")]
    [InlineData("svc_ops-1+oncall.team")]
    public void Names_people_recognise_are_accepted_as_they_are(string name) =>
        Assert.Equal(name, ConsoleDelegation.Parse(name, "operator")!.Name);

    [Theory]
    [InlineData("")]
    [InlineData(" alice")]
    [InlineData("alice ")]
    [InlineData("alice\r\nX-Api-Key: x")]
    [InlineData("alice;drop")]
    [InlineData("<script>")]
    [InlineData("zoë")]
    public void A_name_that_is_empty_padded_or_has_other_characters_is_refused(string name) =>
        Assert.Null(ConsoleDelegation.Parse(name, "operator"));

    [Fact]
    public void A_name_or_role_list_over_the_bounds_is_refused()
    {
        Assert.NotNull(ConsoleDelegation.Parse(new string('a', ConsoleDelegation.MaxUserLength), "viewer"));
        Assert.Null(ConsoleDelegation.Parse(new string('a', ConsoleDelegation.MaxUserLength + 1), "viewer"));
        Assert.Null(ConsoleDelegation.Parse("alice", string.Join(',', Enumerable.Repeat("viewer", 40))));
        Assert.Null(ConsoleDelegation.Parse("alice", new string('a', ConsoleDelegation.MaxRoleLength + 1)));
    }

    [Fact]
    public void Only_viewer_operator_and_admin_pass_once_each_in_order_given()
    {
        var person = ConsoleDelegation.Parse("alice", " operator, console,predictor,admin,operator,superuser ")!;

        Assert.Equal(["operator", "admin"], person.Roles);
    }

    [Theory]
    [InlineData("operator,")]
    [InlineData("operator,,viewer")]
    [InlineData("Operator")]
    [InlineData("operator;admin")]
    [InlineData("admin viewer")]
    public void A_role_list_that_is_not_comma_separated_lower_case_words_is_refused(string roles) =>
        Assert.Null(ConsoleDelegation.Parse("alice", roles));

    [Fact]
    public void An_empty_role_list_is_a_person_with_no_roles()
    {
        Assert.Empty(ConsoleDelegation.Parse("alice", "")!.Roles);
        Assert.Empty(ConsoleDelegation.Parse("alice", "predictor,console")!.Roles);
    }

    [Fact]
    public void Both_headers_once_each_are_needed_to_read_a_person()
    {
        var both = new HeaderDictionary { [ConsoleDelegation.UserHeader] = "alice", [ConsoleDelegation.RolesHeader] = "viewer" };
        var userOnly = new HeaderDictionary { [ConsoleDelegation.UserHeader] = "alice" };
        var twice = new HeaderDictionary { [ConsoleDelegation.UserHeader] = new(["alice", "bob"]), [ConsoleDelegation.RolesHeader] = "viewer" };

        Assert.Equal(new DelegatedPerson("alice", ["viewer"]).Name, ConsoleDelegation.Read(both)!.Name);
        Assert.True(ConsoleDelegation.Presented(userOnly));
        Assert.Null(ConsoleDelegation.Read(userOnly));
        Assert.Null(ConsoleDelegation.Read(twice));
        Assert.False(ConsoleDelegation.Presented(new HeaderDictionary()));
    }

    [Fact]
    public void A_credential_for_a_person_sends_the_console_key_with_their_name_and_roles_and_a_key_credential_sends_only_the_key()
    {
        using var forPerson = new HttpRequestMessage(HttpMethod.Get, "/api/audit");
        PlatformCredential.ForPerson("fw_console", "alice@contoso.com", ["operator", "viewer"]).ApplyTo(forPerson);
        using var forKey = new HttpRequestMessage(HttpMethod.Get, "/api/audit");
        var key = PlatformCredential.ForKey("fw_own");
        key.ApplyTo(forKey);

        Assert.Equal("fw_console", Assert.Single(forPerson.Headers.GetValues("X-Api-Key")));
        Assert.Equal("alice@contoso.com", Assert.Single(forPerson.Headers.GetValues(ConsoleDelegation.UserHeader)));
        Assert.Equal("operator,viewer", Assert.Single(forPerson.Headers.GetValues(ConsoleDelegation.RolesHeader)));
        Assert.Equal("fw_own", Assert.Single(forKey.Headers.GetValues("X-Api-Key")));
        Assert.False(forKey.Headers.Contains(ConsoleDelegation.UserHeader));
        Assert.DoesNotContain("fw_own", key.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Provider_roles_map_by_configuration_and_unmapped_or_foreign_ones_grant_nothing()
    {
        var map = new OidcOptions().RoleMap;
        map["Weird"] = "console";

        Assert.Equal(["operator"], ConsolePrincipal.MapRoles(["Flywheel.Operator", "Flywheel.Operator", "Directory.Admin", "Weird"], map));
        Assert.Empty(ConsolePrincipal.MapRoles([], map));
    }
}
