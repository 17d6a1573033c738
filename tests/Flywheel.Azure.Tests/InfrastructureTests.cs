using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Flywheel.Azure.Tests;

public sealed partial class InfrastructureTests
{
    [Fact]
    public async Task The_Bicep_compiles_without_errors_or_warnings()
    {
        var (exitCode, output, errors) = await Bicep.RunAsync("build", Bicep.MainFile, "--stdout");

        Assert.True(exitCode == 0, $"bicep build failed:\n{errors}");
        Assert.True(errors.Trim().Length == 0, $"bicep build reported:\n{errors}");
        Assert.NotNull(JsonNode.Parse(output)?["resources"]);
    }

    [Fact]
    public async Task The_Bicep_passes_the_linter()
    {
        var (exitCode, output, errors) = await Bicep.RunAsync("lint", Bicep.MainFile);

        Assert.True(exitCode == 0 && errors.Trim().Length == 0, $"bicep lint reported:\n{output}{errors}");
    }

    [Fact]
    public async Task Every_service_in_the_manifest_has_a_container_app_with_every_connection_it_needs()
    {
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Repository.Path("aspire-manifest.json")))!["resources"]!.AsObject();
        var (exitCode, compiled, errors) = await Bicep.RunAsync("build", Bicep.MainFile, "--stdout");
        Assert.True(exitCode == 0, errors);
        var apps = Bicep.ContainerApps(JsonNode.Parse(compiled)!);

        var services = manifest.Where(resource => (string?)resource.Value!["type"] == "project.v0").ToList();
        Assert.NotEmpty(services);
        foreach (var (name, service) in services)
        {
            Assert.True(apps.TryGetValue(name, out var env), $"'{name}' has no container app or job in infra/ (found: {string.Join(", ", apps.Keys)})");
            var needed = service!["env"]?.AsObject().Select(variable => variable.Key)
                .Where(key => key.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || key.StartsWith("services__", StringComparison.Ordinal))
                ?? [];
            foreach (var variable in needed)
            {
                Assert.True(env.Contains(variable), $"the container app '{name}' does not set {variable}");
            }
        }
    }

    [Fact]
    public async Task Connection_strings_in_the_manifest_are_secret_parameters()
    {
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Repository.Path("aspire-manifest.json")))!["resources"]!.AsObject();

        var connections = manifest.Where(resource => (string?)resource.Value!["type"] == "parameter.v0" && resource.Value["connectionString"] is not null).ToList();

        Assert.Equal(4, connections.Count);
        Assert.All(connections, connection => Assert.True((bool?)connection.Value!["inputs"]?["value"]?["secret"] == true, connection.Key));
    }

    [Fact]
    public void No_secret_value_is_written_in_the_manifest_the_Bicep_or_the_parameters()
    {
        var files = Directory.EnumerateFiles(Repository.Path("infra"), "*.bicep", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Repository.Path("infra"), "*.json", SearchOption.AllDirectories))
            .Append(Repository.Path("aspire-manifest.json"))
            .ToList();
        Assert.Contains(files, f => f.EndsWith("main.parameters.json", StringComparison.Ordinal));

        var findings = files
            .SelectMany(file => File.ReadLines(file).Select((line, index) => (file, line: index + 1, text: line)))
            .Where(l => SecretLooking().IsMatch(l.text))
            .Select(l => $"{Path.GetRelativePath(Repository.Root, l.file)}:{l.line}: {l.text.Trim()}")
            .ToList();

        Assert.True(findings.Count == 0, "secret-looking values:\n" + string.Join("\n", findings));
    }

    [Fact]
    public async Task Secret_parameters_take_their_values_from_the_environment_not_the_file()
    {
        var parameters = JsonNode.Parse(await File.ReadAllTextAsync(Repository.Path("infra", "main.parameters.json")))!["parameters"]!.AsObject();

        var secretNamed = parameters.Where(p => SecretName().IsMatch(p.Key)).ToList();

        Assert.NotEmpty(secretNamed);
        Assert.All(secretNamed, p => Assert.Matches(@"^\$\{[A-Z0-9_]+\}$", (string?)p.Value!["value"] ?? ""));
    }

    [Fact]
    public async Task The_console_key_the_PII_key_and_the_OIDC_client_secret_live_in_Key_Vault_and_only_their_apps_read_them()
    {
        var (exitCode, compiled, errors) = await Bicep.RunAsync("build", Bicep.MainFile, "--stdout");
        Assert.True(exitCode == 0, errors);
        var template = JsonNode.Parse(compiled)!;

        // Both are secure parameters: azd passes them from its environment, they never reach an output.
        var parameters = template["parameters"]!;
        Assert.Equal("securestring", (string?)parameters["consoleKey"]?["type"]);
        Assert.Equal(32, (int?)parameters["consoleKey"]?["minLength"]);
        Assert.Equal("securestring", (string?)parameters["piiKey"]?["type"]);
        Assert.Equal(32, (int?)parameters["piiKey"]?["minLength"]);
        Assert.DoesNotContain("piiKey')", template["outputs"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("securestring", (string?)parameters["consoleOidcClientSecret"]?["type"]);
        Assert.Equal("", (string?)parameters["consoleOidcClientSecret"]?["defaultValue"]);
        Assert.DoesNotContain("consoleKey')", template["outputs"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("consoleOidcClientSecret')", template["outputs"]!.ToJsonString(), StringComparison.Ordinal);

        var vault = Deployment(template, "keyvault");
        var vaultParameters = vault["properties"]!["parameters"]!;
        Assert.Equal("[parameters('consoleKey')]", (string?)vaultParameters["consoleServiceKey"]?["value"]);
        Assert.Equal("[parameters('consoleOidcClientSecret')]", (string?)vaultParameters["consoleOidcCredential"]?["value"]);
        Assert.Equal(["registry", "console"], Identities(vaultParameters["consoleKeyReaderIds"]));
        Assert.Equal(["console"], Identities(vaultParameters["consoleOidcReaderIds"]));
        // The PII key: only the inference workers pseudonymise, so only they read it.
        Assert.Equal("[parameters('piiKey')]", (string?)vaultParameters["piiPseudonymKey"]?["value"]);
        Assert.Equal(["inference"], Identities(vaultParameters["piiKeyReaderIds"]));
        var secrets = Resources(vault["properties"]!["template"]!).Where(r => (string?)r["type"] == "Microsoft.KeyVault/vaults/secrets").ToList();
        var consoleKey = Assert.Single(secrets, r => ((string?)r["name"])!.Contains("'console-key'", StringComparison.Ordinal));
        Assert.Null(consoleKey["condition"]);
        Assert.Equal("[parameters('consoleServiceKey')]", (string?)consoleKey["properties"]?["value"]);
        var piiKey = Assert.Single(secrets, r => ((string?)r["name"])!.Contains("'pii-key'", StringComparison.Ordinal));
        Assert.Null(piiKey["condition"]);
        Assert.Equal("[parameters('piiPseudonymKey')]", (string?)piiKey["properties"]?["value"]);
        // Without an app registration the client secret does not exist (an app cannot reference an empty one).
        var oidc = Assert.Single(secrets, r => ((string?)r["name"])!.Contains("'console-oidc-client-secret'", StringComparison.Ordinal));
        Assert.Equal("[parameters('consoleOidcEnabled')]", (string?)oidc["condition"]);
        Assert.Equal("[parameters('consoleOidcCredential')]", (string?)oidc["properties"]?["value"]);
        Assert.Equal("[not(empty(parameters('consoleOidcClientId')))]", (string?)template["variables"]?["consoleOidcEnabled"]);

        // Each app reads the key through a Key Vault reference with its own identity.
        foreach (var (app, variable, secret, output) in new[]
        {
            ("registry", "Flywheel__ConsoleKey", "console-key", "consoleKeyUri"),
            ("console", "Flywheel__Console__ServiceKey", "console-key", "consoleKeyUri"),
            ("console", "Flywheel__Console__Oidc__ClientSecret", "oidc-client-secret", "consoleOidcClientSecretUri"),
            ("inference", "Flywheel__PiiKey", "pii-key", "piiKeyUri"),
        })
        {
            var appParameters = Deployment(template, $"app-{app}")["properties"]!["parameters"]!;
            var env = Assert.Single(appParameters["env"]!["value"]!.AsArray(), e => (string?)e!["name"] == variable)!;
            Assert.Equal(secret, (string?)env["secretRef"]);
            Assert.Null(env["value"]);
            var reference = Assert.Single(appParameters["secrets"]!["value"]!.AsArray(), s => (string?)s!["name"] == secret)!;
            Assert.Contains("'keyvault'", (string?)reference["keyVaultUrl"], StringComparison.Ordinal);
            Assert.EndsWith($".outputs.{output}.value]", (string?)reference["keyVaultUrl"], StringComparison.Ordinal);
            Assert.EndsWith($".outputs.{app}.value.id]", (string?)reference["identity"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task No_app_is_given_a_key_secret_or_password_as_a_plain_value()
    {
        var (exitCode, compiled, errors) = await Bicep.RunAsync("build", Bicep.MainFile, "--stdout");
        Assert.True(exitCode == 0, errors);

        var variables = Resources(JsonNode.Parse(compiled)!)
            .Where(r => (string?)r["type"] == "Microsoft.Resources/deployments" && r["properties"]?["parameters"]?["env"]?["value"] is JsonArray)
            .SelectMany(r => r["properties"]!["parameters"]!["env"]!["value"]!.AsArray().Select(e => (app: (string?)r["name"], variable: e!)))
            .ToList();
        Assert.Contains(variables, v => (string?)v.variable["name"] == "Flywheel__Console__ServiceKey");

        var plain = variables.Where(v => SecretName().IsMatch((string)v.variable["name"]!) && v.variable["secretRef"] is null)
            .Select(v => $"{v.app}: {v.variable["name"]}").ToList();

        Assert.True(plain.Count == 0, "set as plain values: " + string.Join(", ", plain));
    }

    [Fact]
    public async Task The_console_may_write_only_its_Data_Protection_container()
    {
        var (exitCode, compiled, errors) = await Bicep.RunAsync("build", Bicep.MainFile, "--stdout");
        Assert.True(exitCode == 0, errors);
        var storage = Deployment(JsonNode.Parse(compiled)!, "storage");
        var parameters = storage["properties"]!["parameters"]!;

        Assert.Equal(["console"], Identities(parameters["dataProtectionContributorPrincipalIds"]));
        Assert.DoesNotContain("console", Identities(parameters["blobContributorPrincipalIds"]));
        Assert.DoesNotContain("console", Identities(parameters["blobReaderPrincipalIds"]));
        var grant = Assert.Single(Resources(storage["properties"]!["template"]!), r =>
            (string?)r["type"] == "Microsoft.Authorization/roleAssignments" &&
            ((string?)r["properties"]?["principalId"])!.Contains("dataProtectionContributorPrincipalIds", StringComparison.Ordinal));
        Assert.Equal("[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', parameters('accountName'), 'default', 'data-protection')]", (string?)grant["scope"]);
    }

    private static JsonNode Deployment(JsonNode template, string name) =>
        Assert.Single(Resources(template), r => (string?)r["type"] == "Microsoft.Resources/deployments" && (string?)r["name"] == name);

    private static IEnumerable<JsonNode> Resources(JsonNode template) => template["resources"] switch
    {
        JsonArray array => array.OfType<JsonNode>(),
        JsonObject obj => obj.Select(pair => pair.Value).OfType<JsonNode>(),
        _ => [],
    };

    /// <summary>The identities (identities module outputs) whose principal ids a parameter lists.</summary>
    private static List<string> Identities(JsonNode? parameter) =>
        [.. (parameter?["value"]?.AsArray() ?? []).Select(id => IdentityOutput().Match((string?)id ?? "") is { Success: true } m ? m.Groups[1].Value : $"?{id}")];

    [GeneratedRegex(@"'identities'\), '[0-9-]+'\)\.outputs\.(\w+)\.value\.principalId\]$")]
    private static partial Regex IdentityOutput();

    [Theory]
    [InlineData("AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")]
    [InlineData("Host=db;Password=hunter2hunter2")]
    [InlineData("value: 'amqp://flywheel:s3cretpassw0rd@rabbitmq:5672/'")]
    [InlineData("-----BEGIN PRIVATE KEY-----")]
    [InlineData("\"password\": \"correct-horse-battery\"")]
    public void The_secret_scan_catches_literal_secrets(string line) => Assert.Matches(SecretLooking(), line);

    [Theory]
    [InlineData("value: 'amqp://flywheel:${rabbitMqPassword}@rabbitmq:5672/'")]
    [InlineData("value: '${redis.properties.hostName}:6380,password=${redis.listKeys().primaryKey},ssl=True'")]
    [InlineData("\"value\": \"{flywheel-db.inputs.value}\"")]
    [InlineData("roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')")]
    [InlineData("type: 'Microsoft.DBforPostgreSQL/flexibleServers/administrators'")]
    [InlineData("rabbitMqPassword: rabbitMqPassword")]
    [InlineData("accountKey: storage.listKeys().keys[0].value")]
    [InlineData("\"rabbitMqPassword\": { \"value\": \"${RABBITMQ_PASSWORD}\" }")]
    public void The_secret_scan_lets_references_to_secrets_through(string line) => Assert.DoesNotMatch(SecretLooking(), line);

    // Literal credentials: key=value pairs (connection strings), quoted key: 'value' pairs, credentials
    // in URIs, long mixed-case base64 with digits (keys), PEM private keys. References — ${...},
    // {x.value}, parameter names, listKeys() — are not literals and pass.
    [GeneratedRegex(@"(?i:(password|pwd|accountkey|sharedaccesskey|secret)\s*=\s*[^\s;'""$\{][^\s;'""]{5,})|(?i:(password|pwd|accountkey|sharedaccesskey|secret)['""]?\s*:\s*['""][^'""$\{][^'""]{5,}['""])|(\w+://[^:/@\s'""]+:[^@\s'""$]+@)|((?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])[A-Za-z0-9+/]{40,}={0,2})|(-----BEGIN [A-Z ]*PRIVATE KEY-----)")]
    internal static partial Regex SecretLooking();

    [GeneratedRegex("(?i)password|secret|key")]
    private static partial Regex SecretName();
}
