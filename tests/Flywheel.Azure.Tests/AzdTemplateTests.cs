using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Flywheel.Azure.Tests;

/// <summary>
/// <c>azd deploy</c> of the AppHost PUTs <c>AppHost/infra/&lt;resource&gt;.tmpl.yaml</c> as each container app
/// (a full replace), so each template must say what <c>infra/main.bicep</c> says about that app, or a deploy
/// would undo the identities, Key Vault references and variables that provisioning set. These tests compare
/// every template with the compiled Bicep: a <c>{{ .Env.X }}</c> stands for main.bicep output X, and each
/// Bicep value is rewritten in terms of the outputs whose expression it uses.
/// </summary>
public sealed partial class AzdTemplateTests
{
    // azd writes AZURE_ENV_NAME into every environment's .env (azd env new); everything else a template reads
    // must be an output of main.bicep, because azd fills .Env from the environment and fails on a missing key.
    private static readonly string[] s_valuesAzdSets = ["AZURE_ENV_NAME"];

    // Outputs that are empty when the console has no Entra app registration (main.bicep, consoleOidcClientId
    // empty). app.bicep then leaves out the variables and Key Vault references that carry them; the console
    // template guards them with {{ if .Env.X }}. Every template is compared both with and without them.
    private static readonly string[] s_oidcOutputs =
        ["SERVICE_CONSOLE_OIDC_AUTHORITY", "SERVICE_CONSOLE_OIDC_CLIENT_ID", "AZURE_KEY_VAULT_CONSOLE_OIDC_CLIENT_SECRET_URI"];

    private static readonly HashSet<string> s_nothingEmpty = [];
    private static readonly HashSet<string> s_withoutOidc = [.. s_oidcOutputs];

    // One Bicep compile for the class.
    private static readonly Lazy<Task<Infra>> s_infra = new(Infra.LoadAsync);

    [Fact]
    public async Task Every_project_that_infra_deploys_has_an_azd_template_and_no_template_is_stray()
    {
        var infra = await s_infra.Value;
        var projects = Manifest().Where(resource => (string?)resource.Value!["type"] == "project.v0").Select(resource => resource.Key).ToList();
        Assert.NotEmpty(projects);

        foreach (var project in projects.Where(infra.Apps.ContainsKey))
        {
            Assert.True(File.Exists(TemplatePath(project)), $"'{project}' is deployed by infra/ but AppHost/infra/{project}.tmpl.yaml is missing, so azd would apply its own definition");
        }

        Assert.All(TemplateNames(), name => Assert.Contains(name, projects));
        Assert.Equal(projects.Where(infra.Apps.ContainsKey).Order(), TemplateNames().Order());
    }

    [Fact]
    public async Task Templates_read_only_the_image_and_outputs_of_main_bicep()
    {
        var infra = await s_infra.Value;
        Assert.NotEmpty(TemplateNames());

        foreach (var name in TemplateNames())
        {
            var problems = Template.UnknownExpressions(File.ReadAllText(TemplatePath(name)), infra.OutputNames);
            Assert.True(problems.Count == 0, $"{name}.tmpl.yaml: " + string.Join("; ", problems));
        }
    }

    [Fact]
    public async Task Each_template_matches_its_app_in_infra()
    {
        var infra = await s_infra.Value;
        Assert.NotEmpty(TemplateNames());

        foreach (var name in TemplateNames())
        {
            foreach (var (scenario, empty) in new[] { ("with OpenID Connect", s_nothingEmpty), ("without OpenID Connect", s_withoutOidc) })
            {
                var differences = Compare(name, Template.Parse(File.ReadAllText(TemplatePath(name)), empty), infra, empty);
                Assert.True(differences.Count == 0, $"{name}.tmpl.yaml differs from infra/main.bicep {scenario}:\n" + string.Join("\n", differences));
            }
        }
    }

    [Fact]
    public async Task The_console_template_leaves_out_exactly_the_OpenID_Connect_settings_when_there_is_no_app_registration()
    {
        var infra = await s_infra.Value;
        Assert.All(s_oidcOutputs, output => Assert.Contains(output, infra.OutputNames));
        var text = File.ReadAllText(TemplatePath("console"));

        var with = Template.Parse(text, s_nothingEmpty);
        var without = Template.Parse(text, s_withoutOidc);

        string[] oidc = ["Flywheel__Console__Oidc__Authority", "Flywheel__Console__Oidc__ClientId", "Flywheel__Console__Oidc__ClientSecret"];
        Assert.Equal(EnvNames(with).Order(), EnvNames(without).Concat(oidc).Order());
        Assert.Equal("oidc-client-secret", Assert.Single(SecretNames(with).Except(SecretNames(without))));
        // The console key is there either way, as a Key Vault reference.
        Assert.Contains("console-key", SecretNames(without));
        Assert.Contains("Flywheel__Console__ServiceKey", EnvNames(without));

        static IEnumerable<string> EnvNames(JsonObject template) =>
            template["properties"]!["template"]!["containers"]![0]!["env"]!.AsArray().Select(e => (string)e!["name"]!);
        static IEnumerable<string> SecretNames(JsonObject template) =>
            template["properties"]!["configuration"]!["secrets"]!.AsArray().Select(e => (string)e!["name"]!);
    }

    [Theory]
    // The client secret's Key Vault reference always there: without an app registration it would point at no secret.
    [InlineData("{{- if .Env.AZURE_KEY_VAULT_CONSOLE_OIDC_CLIENT_SECRET_URI }}\n      - name: oidc-client-secret", "{{- if .Env.AZURE_KEY_VAULT_CONSOLE_KEY_URI }}\n      - name: oidc-client-secret", "secret oidc-client-secret")]
    // The authority guarded by an output that is never empty: without OIDC the console would get an empty authority.
    [InlineData("{{- if .Env.SERVICE_CONSOLE_OIDC_AUTHORITY }}", "{{- if .Env.AZURE_KEY_VAULT_CONSOLE_KEY_URI }}", "Flywheel__Console__Oidc__Authority")]
    public async Task The_comparison_catches_a_console_template_that_drifted_without_OpenID_Connect(string original, string replacement, string expected)
    {
        var infra = await s_infra.Value;
        var text = File.ReadAllText(TemplatePath("console"));
        Assert.Contains(original, text, StringComparison.Ordinal);
        var drifted = text.Replace(original, replacement, StringComparison.Ordinal);

        var differences = Compare("console", Template.Parse(drifted, s_withoutOidc), infra, s_withoutOidc)
            .Concat(Compare("console", Template.Parse(drifted, s_nothingEmpty), infra, s_nothingEmpty));

        Assert.Contains(differences, difference => difference.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    // Another service's identity.
    [InlineData("registry", "SERVICE_REGISTRY_IDENTITY_ID }}': {}", "SERVICE_GATEWAY_IDENTITY_ID }}': {}", "identity")]
    // A Key Vault reference written as a plain variable.
    [InlineData("registry", "name: Flywheel__AdminKey\n            secretRef: admin-key", "name: Flywheel__AdminKey\n            value: 'x'", "Flywheel__AdminKey")]
    [InlineData("console", "name: Flywheel__Console__ServiceKey\n            secretRef: console-key", "name: Flywheel__Console__ServiceKey\n            value: 'x'", "Flywheel__Console__ServiceKey")]
    // The registry no longer installs the console key.
    [InlineData("registry", "          - name: Flywheel__ConsoleKey\n            secretRef: console-key\n", "", "Flywheel__ConsoleKey")]
    // The console key read with another identity.
    [InlineData("console", "keyVaultUrl: '{{ .Env.AZURE_KEY_VAULT_CONSOLE_KEY_URI }}'\n        identity: '{{ .Env.SERVICE_CONSOLE_IDENTITY_ID }}'", "keyVaultUrl: '{{ .Env.AZURE_KEY_VAULT_CONSOLE_KEY_URI }}'\n        identity: '{{ .Env.SERVICE_REGISTRY_IDENTITY_ID }}'", "secret console-key identity")]
    // A variable left out.
    [InlineData("trainer", "          - name: ConnectionStrings__artifacts\n            value: '{{ .Env.AZURE_STORAGE_BLOB_ENDPOINT }}'\n", "", "ConnectionStrings__artifacts")]
    // Another service's database role.
    [InlineData("inference", "Username=id-inference;", "Username=id-registry;", "ConnectionStrings__flywheel-db")]
    // An internal service made public.
    [InlineData("registry", "external: false", "external: true", "external")]
    // The GPU profile dropped.
    [InlineData("inference", "workloadProfileName: {{ .Env.SERVICE_INFERENCE_WORKLOAD_PROFILE }}", "workloadProfileName: Consumption", "workloadProfileName")]
    // The queue scaler lost.
    [InlineData("trainer", "queueName: 'train-model'", "queueName: 'other'", "scale rules")]
    // A readiness probe on the wrong path.
    [InlineData("console", "path: /health", "path: /", "probe")]
    public async Task The_comparison_catches_a_template_that_drifted_from_infra(string name, string original, string replacement, string expected)
    {
        var infra = await s_infra.Value;
        var text = File.ReadAllText(TemplatePath(name));
        Assert.Contains(original, text, StringComparison.Ordinal);

        var differences = Compare(name, Template.Parse(text.Replace(original, replacement, StringComparison.Ordinal), s_nothingEmpty), infra, s_nothingEmpty);

        Assert.Contains(differences, difference => difference.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_expression_azd_cannot_fill_is_reported()
    {
        var infra = await s_infra.Value;

        var problems = Template.UnknownExpressions("a: {{ .Env.NOT_AN_OUTPUT }}\nb: {{ securedParameter \"admin_key\" }}\nc: {{ .Image }}", infra.OutputNames);

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("NOT_AN_OUTPUT", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("securedParameter", StringComparison.Ordinal));
    }

    [Fact]
    public void No_secret_value_is_written_in_a_template()
    {
        var lines = TemplateNames()
            .SelectMany(name => File.ReadLines(TemplatePath(name)).Select((text, index) => (name, line: index + 1, text)))
            .ToList();
        Assert.NotEmpty(lines);

        var findings = lines.Where(l => InfrastructureTests.SecretLooking().IsMatch(l.text)).Select(l => $"{l.name}.tmpl.yaml:{l.line}: {l.text.Trim()}").ToList();

        Assert.True(findings.Count == 0, "secret-looking values:\n" + string.Join("\n", findings));
        // Every app secret is a Key Vault reference read with an identity; none carries a value.
        foreach (var name in TemplateNames())
        {
            var secrets = Template.Parse(File.ReadAllText(TemplatePath(name)), s_nothingEmpty)["properties"]?["configuration"]?["secrets"]?.AsArray() ?? [];
            Assert.All(secrets, secret =>
            {
                Assert.Null(secret!["value"]);
                Assert.StartsWith("ENV(", (string?)secret["keyVaultUrl"], StringComparison.Ordinal);
                Assert.StartsWith("ENV(", (string?)secret["identity"], StringComparison.Ordinal);
            });
        }
    }

    [Fact]
    public void The_AppHost_does_not_compile_or_copy_the_templates()
    {
        // The manifest is produced by running the AppHost; the templates must stay plain files next to it.
        var project = File.ReadAllText(Repository.Path("AppHost", "Flywheel.AppHost.csproj"));

        Assert.DoesNotContain("infra", project, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Directory.EnumerateFiles(Repository.Path("AppHost", "infra")), file => !file.EndsWith(".tmpl.yaml", StringComparison.Ordinal));
    }

    /// <summary>
    /// The differences between a template (rendered with <paramref name="emptyOutputs"/> empty) and its app in
    /// infra as app.bicep deploys it with those outputs empty: secrets whose Key Vault URL is then empty, variables
    /// whose value is then empty and variables referring to a secret left out are not deployed.
    /// </summary>
    private static List<string> Compare(string name, JsonObject template, Infra infra, IReadOnlySet<string> emptyOutputs)
    {
        bool Given(string? resolved) => resolved is null || Template.WithEmpty(resolved, emptyOutputs).Length > 0;
        var leftOut = new HashSet<string>(StringComparer.Ordinal);
        var differences = new List<string>();
        var app = infra.Apps[name];
        void Expect(string what, string? expected, string? actual)
        {
            if (!string.Equals(expected, actual, StringComparison.Ordinal))
            {
                differences.Add($"{what}: infra has '{expected}', the template '{actual}'");
            }
        }

        var identity = infra.Resolve(app.Parameter("identityId"));
        var identities = template["identity"]?["userAssignedIdentities"]?.AsObject().Select(pair => pair.Key).ToList() ?? [];
        Expect("identity type", "UserAssigned", (string?)template["identity"]?["type"]);
        Expect("identity", identity, string.Join(",", identities));
        Expect("location", "ENV(AZURE_LOCATION)", (string?)template["location"]);

        var properties = template["properties"];
        Expect("environmentId", "ENV(AZURE_CONTAINER_APPS_ENVIRONMENT_ID)", (string?)properties?["environmentId"]);
        Expect("workloadProfileName", app.IsJob ? "Consumption" : infra.Resolve(app.Parameter("workloadProfileName")), (string?)properties?["workloadProfileName"]);

        var configuration = properties?["configuration"];
        var registry = configuration?["registries"]?[0];
        Expect("registry server", "ENV(AZURE_CONTAINER_REGISTRY_ENDPOINT)", (string?)registry?["server"]);
        Expect("registry identity", identity, (string?)registry?["identity"]);

        var secrets = (configuration?["secrets"]?.AsArray() ?? []).ToDictionary(s => (string)s!["name"]!, s => s!);
        foreach (var secret in app.Parameter("secrets")?.AsArray() ?? [])
        {
            var secretName = (string)secret!["name"]!;
            if (!Given(infra.Resolve(secret["keyVaultUrl"])))
            {
                leftOut.Add(secretName);
                continue;
            }

            if (!secrets.Remove(secretName, out var actual))
            {
                differences.Add($"secret {secretName}: missing");
                continue;
            }

            Expect($"secret {secretName} keyVaultUrl", infra.Resolve(secret["keyVaultUrl"]), (string?)actual["keyVaultUrl"]);
            Expect($"secret {secretName} identity", infra.Resolve(secret["identity"]), (string?)actual["identity"]);
        }

        differences.AddRange(secrets.Keys.Select(extra => $"secret {extra}: not in infra"));

        var container = properties?["template"]?["containers"]?[0];
        Expect("container name", name, (string?)container?["name"]);
        Expect("image", "IMAGE", (string?)container?["image"]);
        var env = (container?["env"]?.AsArray() ?? []).ToDictionary(e => (string)e!["name"]!, e => e!);
        foreach (var variable in app.Parameter("env")!.AsArray())
        {
            var variableName = (string)variable!["name"]!;
            if ((variable["secretRef"] is { } secretRef && leftOut.Contains((string)secretRef!)) ||
                (variable["value"] is { } value && !Given(infra.Resolve(value))))
            {
                continue;
            }

            if (!env.Remove(variableName, out var actual))
            {
                differences.Add($"{variableName}: missing");
                continue;
            }

            Expect($"{variableName} secretRef", (string?)variable["secretRef"], (string?)actual["secretRef"]);
            Expect($"{variableName} value", variable["value"] is null ? null : infra.Resolve(variable["value"]), (string?)actual["value"]);
        }

        differences.AddRange(env.Keys.Select(extra => $"{extra}: not in infra"));
        Expect("cpu", infra.Resolve(app.Parameter("cpu")), (string?)container?["resources"]?["cpu"]);
        Expect("memory", infra.Resolve(app.Parameter("memory")), (string?)container?["resources"]?["memory"]);

        var scale = properties?["template"]?["scale"];
        if (app.IsJob)
        {
            // The job's image carrier (see migrator.tmpl.yaml): no ingress and nothing that starts a replica.
            Expect("external", null, configuration?["ingress"]?.ToJsonString());
            Expect("minReplicas", "0", (string?)scale?["minReplicas"]);
            Expect("scale rules", "[]", scale?["rules"]?.ToJsonString() ?? "[]");
            return differences;
        }

        Expect("external", app.Parameter("external")!.ToJsonString(), (string?)configuration?["ingress"]?["external"]);
        Expect("targetPort", "8080", (string?)configuration?["ingress"]?["targetPort"]);
        Expect("allowInsecure", app.Parameter("external")!.GetValue<bool>() ? "false" : "true", (string?)configuration?["ingress"]?["allowInsecure"]);
        Expect("minReplicas", app.Parameter("minReplicas")!.ToJsonString(), (string?)scale?["minReplicas"]);
        Expect("maxReplicas", app.Parameter("maxReplicas")!.ToJsonString(), (string?)scale?["maxReplicas"]);
        if (!JsonNode.DeepEquals(Template.Strings(app.Parameter("scaleRules")), scale?["rules"] ?? new JsonArray()))
        {
            differences.Add($"scale rules: infra has {app.Parameter("scaleRules")?.ToJsonString()}, the template {scale?["rules"]?.ToJsonString()}");
        }

        var probes = container?["probes"]?.AsArray().ToDictionary(p => (string)p!["type"]!, p => p!) ?? [];
        foreach (var (type, path) in new[] { ("Liveness", "/alive"), ("Readiness", "/health") })
        {
            var probe = probes.GetValueOrDefault(type);
            Expect($"{type} probe path", path, (string?)probe?["httpGet"]?["path"]);
            Expect($"{type} probe port", "8080", (string?)probe?["httpGet"]?["port"]);
        }

        return differences;
    }

    private static JsonObject Manifest() =>
        JsonNode.Parse(File.ReadAllText(Repository.Path("aspire-manifest.json")))!["resources"]!.AsObject();

    private static string TemplatePath(string name) => Repository.Path("AppHost", "infra", $"{name}.tmpl.yaml");

    private static IEnumerable<string> TemplateNames() =>
        Directory.Exists(Repository.Path("AppHost", "infra"))
            ? Directory.EnumerateFiles(Repository.Path("AppHost", "infra"), "*.tmpl.yaml").Select(path => Path.GetFileName(path)[..^".tmpl.yaml".Length])
            : [];

    /// <summary>A container app or job in the compiled Bicep: the parameters main.bicep passes its module.</summary>
    private sealed record InfraApp(bool IsJob, JsonObject Parameters, JsonObject Declared)
    {
        /// <summary>The value passed, or the module's default when main.bicep passes none.</summary>
        public JsonNode? Parameter(string name) => Parameters[name]?["value"] ?? Declared[name]?["defaultValue"];
    }

    /// <summary>The compiled <c>infra/main.bicep</c>: its apps and outputs.</summary>
    private sealed class Infra
    {
        private readonly Dictionary<string, string> _outputByExpression = new(StringComparer.Ordinal);

        public Dictionary<string, InfraApp> Apps { get; } = new(StringComparer.Ordinal);

        public HashSet<string> OutputNames { get; } = new(StringComparer.Ordinal);

        public static async Task<Infra> LoadAsync()
        {
            var (exitCode, compiled, errors) = await Bicep.RunAsync("build", Bicep.MainFile, "--stdout");
            Assert.True(exitCode == 0, errors);
            var template = JsonNode.Parse(compiled)!.AsObject();
            var infra = new Infra();
            foreach (var (name, output) in template["outputs"]!.AsObject())
            {
                infra.OutputNames.Add(name);
                if (output!["value"] is JsonValue value && value.TryGetValue<string>(out var text) && Arm.IsExpression(text))
                {
                    infra._outputByExpression.TryAdd(Arm.Inner(text), name);
                }
            }

            foreach (var resource in template["resources"]!.AsArray())
            {
                if ((string?)resource!["type"] != "Microsoft.Resources/deployments" || resource["properties"]?["parameters"] is not JsonObject parameters ||
                    (string?)parameters["name"]?["value"] is not { } name || parameters["env"] is null)
                {
                    continue;
                }

                var nested = resource["properties"]!["template"]!;
                // Modules that export types compile with symbolic names: resources is then an object.
                var resources = nested["resources"] switch
                {
                    JsonArray array => array.OfType<JsonNode>(),
                    JsonObject obj => obj.Select(pair => pair.Value).OfType<JsonNode>(),
                    _ => [],
                };
                var isJob = resources.Any(r => (string?)r["type"] == "Microsoft.App/jobs");
                infra.Apps[name] = new InfraApp(isJob, parameters, nested["parameters"]!.AsObject());
            }

            Assert.NotEmpty(infra.Apps);
            return infra;
        }

        /// <summary>
        /// A Bicep value as the template writes it: a literal as is; an output's expression as <c>ENV(output)</c>;
        /// <c>format(...)</c> with each argument resolved. Anything else is left visibly unresolved so it fails.
        /// </summary>
        public string? Resolve(JsonNode? value) => value switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var text) => Arm.IsExpression(text) ? ResolveExpression(Arm.Inner(text)) : text,
            _ => value.ToJsonString(),
        };

        private string ResolveExpression(string expression)
        {
            if (_outputByExpression.TryGetValue(expression, out var output))
            {
                return $"ENV({output})";
            }

            if (Arm.FormatArguments(expression) is not { } arguments)
            {
                return $"UNRESOLVED({expression})";
            }

            var values = arguments.Skip(1).Select(a => Arm.StringLiteral(a) ?? ResolveExpression(a)).ToArray();
            return FormatHole().Replace(Arm.StringLiteral(arguments[0]) ?? "", match => values[int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)]);
        }
    }

    /// <summary>Just enough of ARM template expressions for what Bicep writes for string interpolation.</summary>
    private static class Arm
    {
        public static bool IsExpression(string text) => text.StartsWith('[') && text.EndsWith(']') && !text.StartsWith("[[", StringComparison.Ordinal);

        public static string Inner(string text) => text[1..^1];

        /// <summary>The arguments of <c>format(a, b, ...)</c> as source text, or null for any other expression.</summary>
        public static List<string>? FormatArguments(string expression)
        {
            if (!expression.StartsWith("format(", StringComparison.Ordinal) || !expression.EndsWith(')'))
            {
                return null;
            }

            var arguments = new List<string>();
            var body = expression["format(".Length..^1];
            int depth = 0, start = 0;
            var quoted = false;
            for (var i = 0; i < body.Length; i++)
            {
                switch (body[i])
                {
                    case '\'':
                        quoted = !quoted;
                        break;
                    case '(' or '[' when !quoted:
                        depth++;
                        break;
                    case ')' or ']' when !quoted:
                        depth--;
                        break;
                    case ',' when !quoted && depth == 0:
                        arguments.Add(body[start..i].Trim());
                        start = i + 1;
                        break;
                }
            }

            arguments.Add(body[start..].Trim());
            return depth == 0 ? arguments : null;
        }

        /// <summary>The value of a quoted literal (<c>'it''s'</c>), or null when the text is not one.</summary>
        public static string? StringLiteral(string text) =>
            text.Length >= 2 && text[0] == '\'' && text[^1] == '\'' ? text[1..^1].Replace("''", "'", StringComparison.Ordinal) : null;
    }

    /// <summary>A template as azd sees it, with placeholders where azd would put values.</summary>
    private static partial class Template
    {
        /// <summary>Expressions other than <c>.Image</c> and <c>.Env.X</c> with X an output of main.bicep or set by azd.</summary>
        /// <remarks><c>{{- if .Env.X }}</c> … <c>{{- end }}</c> (X an output) is allowed too: it leaves out optional settings.</remarks>
        public static List<string> UnknownExpressions(string text, IReadOnlySet<string> outputs) =>
            [.. GoExpression().Matches(text).Select(m => m.Groups[1].Value.Trim()).Distinct()
                .Where(e => e is not (".Image" or "end") && !(EnvReference().Match(IfCondition().Match(e) is { Success: true } condition ? condition.Groups[1].Value : e) is { Success: true } env &&
                    (outputs.Contains(env.Groups[1].Value) || s_valuesAzdSets.Contains(env.Groups[1].Value))))
                .Select(e => $"'{{{{ {e} }}}}' is not something azd fills from main.bicep's outputs")];

        /// <summary>
        /// Renders the <c>{{- if .Env.X }}</c> blocks as azd would with <paramref name="emptyOutputs"/> empty (Go
        /// templates treat an empty string as false; the dashes trim the whitespace before them, so a block is its
        /// lines or nothing), substitutes <c>{{ .Env.X }}</c> with <c>ENV(X)</c> and <c>{{ .Image }}</c> with
        /// <c>IMAGE</c>, and parses the YAML.
        /// </summary>
        public static JsonObject Parse(string text, IReadOnlySet<string> emptyOutputs)
        {
            var rendered = IfBlock().Replace(text, m => emptyOutputs.Contains(m.Groups[1].Value) ? "" : m.Groups[2].Value);
            Assert.DoesNotMatch(@"\{\{-?\s*(if|end|else)\b", rendered);
            var substituted = GoExpression().Replace(rendered, m =>
            {
                var expression = m.Groups[1].Value.Trim();
                return expression == ".Image" ? "IMAGE"
                    : EnvReference().Match(expression) is { Success: true } env ? $"ENV({env.Groups[1].Value})"
                    : $"UNSUPPORTED({expression})";
            });
            var yaml = new YamlStream();
            yaml.Load(new StringReader(substituted));
            return Assert.IsType<JsonObject>(ToJson(yaml.Documents.Single().RootNode));
        }

        /// <summary>A resolved value (<c>ENV(X)</c> for output X) with the given outputs empty.</summary>
        public static string WithEmpty(string resolved, IReadOnlySet<string> emptyOutputs) =>
            ResolvedOutput().Replace(resolved, m => emptyOutputs.Contains(m.Groups[1].Value) ? "" : m.Value);

        /// <summary>A JSON value with every scalar as a string, as <see cref="Parse"/> gives YAML scalars.</summary>
        public static JsonNode? Strings(JsonNode? node) => node switch
        {
            JsonObject obj => new JsonObject(obj.Select(pair => KeyValuePair.Create(pair.Key, Strings(pair.Value)))),
            JsonArray array => new JsonArray([.. array.Select(Strings)]),
            JsonValue value => JsonValue.Create(value.TryGetValue<string>(out var text) ? text : value.ToJsonString()),
            _ => null,
        };

        private static JsonNode? ToJson(YamlNode node) => node switch
        {
            YamlMappingNode mapping => new JsonObject(mapping.Children.Select(pair => KeyValuePair.Create(((YamlScalarNode)pair.Key).Value!, ToJson(pair.Value)))),
            YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
            YamlScalarNode scalar => JsonValue.Create(scalar.Value),
            _ => throw new InvalidOperationException($"Unexpected YAML node {node.NodeType}"),
        };

        [GeneratedRegex(@"\{\{-?(.*?)-?\}\}", RegexOptions.Singleline)]
        private static partial Regex GoExpression();

        [GeneratedRegex(@"^\.Env\.([A-Za-z_][A-Za-z0-9_]*)$")]
        private static partial Regex EnvReference();

        [GeneratedRegex(@"^if\s+(\S+)$")]
        private static partial Regex IfCondition();

        [GeneratedRegex(@"\s*\{\{-\s*if\s+\.Env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}(.*?)\s*\{\{-\s*end\s*\}\}", RegexOptions.Singleline)]
        private static partial Regex IfBlock();

        [GeneratedRegex(@"ENV\(([A-Za-z_][A-Za-z0-9_]*)\)")]
        private static partial Regex ResolvedOutput();
    }

    [GeneratedRegex(@"\{(\d+)\}")]
    private static partial Regex FormatHole();
}
