using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Flywheel.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The whole platform, started from the real AppHost on local executables with its own fresh
/// data folder, and torn down (processes and data) when the test is done.
/// </summary>
public sealed class FlywheelApp : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    public static readonly string[] Services =
    [
        ResourceNames.Gateway, ResourceNames.Registry, ResourceNames.Inference, ResourceNames.Orchestrator,
        ResourceNames.Trainer, ResourceNames.DriftMonitor, ResourceNames.Console,
    ];

    public static readonly string[] Infrastructure =
    [
        ResourceNames.Postgres, ResourceNames.Redis, ResourceNames.RabbitMq, ResourceNames.Azurite,
    ];

    /// <summary>The schedule's interval for models without a monitoring policy, in the tests' platform: one week.</summary>
    public const int DefaultEvaluationIntervalSeconds = 7 * 24 * 3600;

    private readonly string _dataDirectory;

    private FlywheelApp(DistributedApplication app, string dataDirectory, TestOidcProvider oidc)
    {
        App = app;
        _dataDirectory = dataDirectory;
        Oidc = oidc;
    }

    public DistributedApplication App { get; }

    /// <summary>The OpenID Connect provider the console offers sign-in with (standing in for Entra ID).</summary>
    public TestOidcProvider Oidc { get; }

    public static async Task<FlywheelApp> StartAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var root = Environment.GetEnvironmentVariable("FLYWHEEL_TEST_DATA") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Path.GetTempPath(), "flywheel-tests");
        var data = Path.Combine(root, Guid.NewGuid().ToString("N")[..12]);

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Flywheel_AppHost>(
            [$"--Flywheel:DataDir={data}", "--Flywheel:Infrastructure=executables"],
            (options, _) => options.DisableDashboard = true,
            timeout.Token);
        builder.Services.AddLogging(logging => logging
            .SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Flywheel.AppHost.Resources", LogLevel.Warning)
            .AddFilter("Aspire", LogLevel.Warning)
            .AddFilter("System.Net.Http", LogLevel.Warning)
            // Probes fail by design while servers start and while a test holds one down; the
            // assertions report what matters.
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None));
        if (Environment.GetEnvironmentVariable("FLYWHEEL_TEST_LOGS") is "1")
        {
            // Every service's log on the test's output (dotnet test --logger "console;verbosity=detailed").
            builder.Services.AddLogging(logging => logging.AddSimpleConsole().AddFilter("Flywheel.AppHost.Resources", LogLevel.Information));
        }
        // The shared platform serves many tests' models at once. The schedule evaluates only models
        // whose test sets a monitoring policy; on the others, the default schedule would find the
        // tests' repeated requests drifted and retrain and canary them under later tests.
        var monitor = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == ResourceNames.DriftMonitor);
        builder.CreateResourceBuilder(monitor).WithEnvironment("Flywheel__Monitoring__DefaultEvaluationIntervalSeconds",
            DefaultEvaluationIntervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // The console reads the provider's discovery document at its first sign-in, so the provider
        // runs (at an address known now) before the console starts, and lives as long as the platform.
        var oidc = await TestOidcProvider.StartAsync(timeout.Token);
        var console = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == ResourceNames.Console);
        builder.CreateResourceBuilder(console)
            .WithEnvironment("Flywheel__Console__Oidc__Authority", oidc.Authority)
            .WithEnvironment("Flywheel__Console__Oidc__ClientId", TestOidcProvider.ClientId)
            .WithEnvironment("Flywheel__Console__Oidc__ClientSecret", oidc.ClientSecret);
        DistributedApplication app;
        try
        {
            app = await builder.BuildAsync(timeout.Token);
        }
        catch
        {
            await oidc.DisposeAsync();
            throw;
        }

        var flywheel = new FlywheelApp(app, data, oidc);
        try
        {
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceAsync(ResourceNames.Migrator, KnownResourceStates.Finished, timeout.Token);
            await Task.WhenAll(Infrastructure.Concat(Services)
                .Select(name => app.ResourceNotifications.WaitForResourceHealthyAsync(name, timeout.Token)));
            // The provider's callback is the gateway's: people reach the console only through it.
            oidc.AllowRedirectUri(new Uri(flywheel.CreateClient(ResourceNames.Gateway).BaseAddress!, TestOidcProvider.CallbackPath));
        }
        catch
        {
            await flywheel.DisposeAsync();
            throw;
        }

        return flywheel;
    }

    public HttpClient CreateClient(string service) => App.CreateHttpClient(service, "http");

    /// <summary>The bootstrap admin API key the AppHost created for this platform's data folder.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(_dataDirectory, ResourceNames.AdminKey + ".password")).Trim();

    /// <summary>The password of the console's local development account <c>admin</c>, generated like the admin key.</summary>
    public string ConsoleAdminPassword => File.ReadAllText(Path.Combine(_dataDirectory, ResourceNames.ConsoleAdminPassword + ".password")).Trim();

    /// <summary>The key the inference workers pseudonymise PII features under, generated like the admin key.</summary>
    public string PiiKey => File.ReadAllText(Path.Combine(_dataDirectory, ResourceNames.PiiKey + ".password")).Trim();

    /// <summary>The console's service key (role <c>console</c>), generated like the admin key.</summary>
    public string ConsoleKey => File.ReadAllText(Path.Combine(_dataDirectory, ResourceNames.ConsoleKey + ".password")).Trim();

    public async Task<string> ConnectionStringAsync(string name) =>
        await App.GetConnectionStringAsync(name) ?? throw new InvalidOperationException($"No connection string '{name}'.");

    public static async Task<HealthResponse> GetHealthAsync(HttpClient client, CancellationToken cancellationToken = default)
    {
        using var response = await client.GetAsync(HealthEndpoints.Health, cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        var checks = body.GetProperty("checks").EnumerateObject()
            .ToDictionary(check => check.Name, check => check.Value.GetProperty("status").GetString()!);
        return new HealthResponse((int)response.StatusCode, body.GetProperty("status").GetString()!, checks);
    }

    /// <summary>Polls a service's /health until the condition holds, or fails with the last answer seen.</summary>
    public async Task<HealthResponse> WaitForHealthAsync(string service, Func<HealthResponse, bool> condition, TimeSpan timeout)
    {
        using var client = CreateClient(service);
        var deadline = DateTime.UtcNow + timeout;
        HealthResponse? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await GetHealthAsync(client);
                if (condition(last))
                {
                    return last;
                }
            }
            catch (HttpRequestException)
            {
                // The service itself is restarting; keep polling.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        throw new TimeoutException($"{service} /health did not reach the expected state within {timeout}; last answer: {last}");
    }

    public string DataDirectory => _dataDirectory;

    /// <summary>Kills a service's process outright (SIGKILL, as a crash would) and returns its PID.</summary>
    public async Task<int> KillServiceAsync(string resource)
    {
        var pid = await ServiceProcessIdAsync(resource);
        using var process = System.Diagnostics.Process.GetProcessById(pid);
        process.Kill();
        await process.WaitForExitAsync();
        return pid;
    }

    /// <summary>
    /// Starts a service again once Aspire has seen it stop, and returns once it is healthy: the
    /// tests after the caller share the platform and expect every service up.
    /// </summary>
    public async Task RestartServiceAsync(string resource)
    {
        using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await App.ResourceNotifications.WaitForResourceAsync(resource,
            e => e.Snapshot.State?.Text is { } state && state != KnownResourceStates.Running && state != KnownResourceStates.Starting, stopped.Token);
        var started = await App.ResourceCommands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand);
        if (!started.Success)
        {
            throw new InvalidOperationException($"{resource} did not start again: {started.Message}");
        }

        using var healthy = new CancellationTokenSource(StartTimeout);
        // The command can return before the resource's state moves on from the stop: a health wait
        // begun then reads that stopped state as a failure to start. Wait for the new run first.
        await App.ResourceNotifications.WaitForResourceAsync(resource,
            e => e.Snapshot.State?.Text is { } state && (state == KnownResourceStates.Starting || state == KnownResourceStates.Running), healthy.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, healthy.Token);
        // Aspire's view may still hold the health of the process that was stopped: ask the new one.
        await WaitForHealthAsync(resource, health => health.StatusCode == 200, StartTimeout);
    }

    /// <summary>
    /// The operating-system process that runs a service: Aspire starts a project with
    /// <c>dotnet run</c>, which runs the service as its child, so this is that child.
    /// </summary>
    public async Task<int> ServiceProcessIdAsync(string resource)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        CustomResourceSnapshot? last = null;
        try
        {
            var running = await App.ResourceNotifications.WaitForResourceAsync(resource, e =>
            {
                last = e.Snapshot;
                return e.Snapshot.State?.Text == KnownResourceStates.Running && LauncherPid(e.Snapshot) is not null;
            }, timeout.Token);
            var launcher = LauncherPid(running.Snapshot)!.Value;
            var children = Directory.EnumerateDirectories("/proc")
                .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
                .Where(pid => pid > 0 && ParentOf(pid) == launcher)
                .ToList();
            return children.Count == 1 ? children[0] : launcher;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{resource} has no running process: state {last?.State?.Text}, properties "
                + string.Join(", ", last?.Properties.Select(p => $"{p.Name}={p.Value}") ?? []));
        }

        static int? LauncherPid(CustomResourceSnapshot snapshot) =>
            snapshot.Properties.FirstOrDefault(p => p.Name.EndsWith("pid", StringComparison.OrdinalIgnoreCase))?.Value switch
            {
                int pid => pid,
                long pid => (int)pid,
                string text when int.TryParse(text, out var pid) => pid,
                _ => null,
            };

        static int? ParentOf(int pid)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("PPid:", StringComparison.Ordinal));
                return line is null ? null : int.Parse(line["PPid:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>The PIDs the local service launchers recorded: servers, epmd and the broker's VM.</summary>
    public IReadOnlyList<int> RecordedProcessIds() =>
        [.. Directory.EnumerateFiles(_dataDirectory, "*.pid", SearchOption.AllDirectories)
            .Select(file => File.ReadAllText(file).Trim())
            .Where(text => int.TryParse(text, out _))
            .Select(int.Parse)];

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Oidc.DisposeAsync();

        // Each launcher deletes its server.pid once its server has exited; wait for that before
        // removing the data the servers were writing.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Directory.Exists(_dataDirectory) && RecordedProcessIds().Any(ProcessIsAlive) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        if (Directory.Exists(_dataDirectory))
        {
            // The PostgreSQL cluster may live outside the data folder (see AppHost/local/postgres.sh).
            var clusterHome = Path.Combine(_dataDirectory, ResourceNames.Postgres, "cluster.home");
            if (File.Exists(clusterHome) && File.ReadAllText(clusterHome).Trim() is { Length: > 0 } home &&
                !home.StartsWith(_dataDirectory, StringComparison.Ordinal) && Directory.Exists(home))
            {
                Directory.Delete(home, recursive: true);
            }

            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    public static bool ProcessIsAlive(int pid)
    {
        // A zombie still has a /proc entry; only a process that is not a zombie counts.
        var status = $"/proc/{pid}/status";
        return File.Exists(status) && !File.ReadLines(status).Any(line => line.StartsWith("State:", StringComparison.Ordinal) && line.Contains("zombie", StringComparison.Ordinal));
    }
}

public sealed record HealthResponse(int StatusCode, string Status, IReadOnlyDictionary<string, string> Checks)
{
    public override string ToString() =>
        $"{StatusCode} {Status} [{string.Join(", ", Checks.Select(c => $"{c.Key}={c.Value}"))}]";
}
