using System.Text.RegularExpressions;
using AngleSharp.Dom;
using Bunit;
using Bunit.TestDoubles;
using Flywheel.Console.Platform;
using Flywheel.Console.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Radzen;

namespace Flywheel.Console.Tests.Fakes;

/// <summary>A bUnit context wired like the console, with the registry replaced by <see cref="FakeRegistry"/>.</summary>
public abstract class ConsoleTest : BunitContext
{
    /// <summary>Short, so a test watches a run page poll several times in well under a second.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(20);

    private readonly HttpClient _http;
    private readonly HttpClient _monitorHttp;

    protected ConsoleTest()
    {
        // bUnit waits 1 s by default; a page's first render in a cold test process, beside the
        // platform's tests on a busy machine, can take longer. A wait that passes returns at once.
        DefaultWaitTimeout = TimeSpan.FromSeconds(10);
        _http = new HttpClient(Registry) { BaseAddress = new Uri("http://registry.test") };
        // The monitor's paths (/api/models/{m}/drift...) do not overlap the registry's, so one fake answers both.
        _monitorHttp = new HttpClient(Registry) { BaseAddress = new Uri("http://monitor.test") };
        Services.AddSingleton(new PlatformClient(_http, NullLogger<PlatformClient>.Instance));
        Services.AddSingleton(new MonitorClient(_monitorHttp, NullLogger<MonitorClient>.Instance));
        Services.AddScoped<OperatorSession>();
        Services.AddSingleton(Options.Create(Settings));
        Services.AddSingleton(Options.Create(SignIn));
        // Nobody signed in with a cookie unless a test says so (Authorization.SetAuthorized).
        Authorization = AddAuthorization();
        Services.AddSingleton<Microsoft.AspNetCore.Components.Forms.AntiforgeryStateProvider, FakeAntiforgery>();
        Services.AddSingleton(TimeProvider.System);
        // Radzen's charts as in the console, with their script answering the size a browser would measure, so they render their SVG.
        Services.AddRadzenComponents();
        JSInterop.Mode = JSRuntimeMode.Loose;
        JSInterop.Setup<Radzen.Blazor.Rendering.Rect>("Radzen.createChart", _ => true).SetResult(new Radzen.Blazor.Rendering.Rect { Width = 400, Height = 160 });
        // As in the console: every page runs in an interactive server circuit.
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
    }

    protected FakeRegistry Registry { get; } = new();

    /// <summary>The sign-in settings the pages see: the console's service key, so a cookie principal can act.</summary>
    protected SignInOptions SignIn { get; } = new() { ServiceKey = ServiceKey };

    /// <summary>The circuit's authentication state (the console's cookie), as bUnit fakes it.</summary>
    protected BunitAuthorizationContext Authorization { get; }

    /// <summary>The console's own service key in these tests.</summary>
    public const string ServiceKey = "fw_test-console-service-key";

    /// <summary>The console's settings the pages see; a test may change them before it renders.</summary>
    protected ConsoleOptions Settings { get; } = new() { RunRefreshInterval = RefreshInterval };

    protected PlatformClient Client => new(_http, NullLogger<PlatformClient>.Instance);

    /// <summary>The key a signed-in test operator holds.</summary>
    public const string OperatorKey = "fw_test-operator-key";

    /// <summary>Signs this test's circuit in with a key the fake registry knows to have <paramref name="roles"/>.</summary>
    protected async Task<OperatorSession> SignInAsync(string name = "alice", params string[] roles)
    {
        roles = roles.Length == 0 ? ["operator"] : roles;
        Registry.Json("/api/keys/me", $$"""{ "id": "0190a6b2-9999-7000-8000-000000000009", "name": "{{name}}", "roles": [{{string.Join(",", roles.Select(r => $"\"{r}\""))}}] }""");
        var session = Services.GetRequiredService<OperatorSession>();
        Assert.Null(await session.SignInAsync(OperatorKey, CancellationToken.None));
        return session;
    }

    /// <summary>An element's text as a reader sees it: runs of white space as one space.</summary>
    protected static string Text(INode node) => Regex.Replace(node.TextContent, @"\s+", " ").Trim();

    /// <summary>The text of each cell of a table row.</summary>
    protected static List<string> Cells(IElement row) => [.. row.Children.Select(Text)];

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _http.Dispose();
            _monitorHttp.Dispose();
        }
    }
}
