using System.Text.RegularExpressions;
using AngleSharp.Dom;
using Bunit;
using Flywheel.Console.Platform;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Flywheel.Console.Tests.Fakes;

/// <summary>A bUnit context wired like the console, with the registry replaced by <see cref="FakeRegistry"/>.</summary>
public abstract class ConsoleTest : BunitContext
{
    /// <summary>Short, so a test watches a run page poll several times in well under a second.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(20);

    private readonly HttpClient _http;

    protected ConsoleTest()
    {
        _http = new HttpClient(Registry) { BaseAddress = new Uri("http://registry.test") };
        Services.AddSingleton(new PlatformClient(_http, NullLogger<PlatformClient>.Instance));
        Services.AddSingleton(Options.Create(new ConsoleOptions { RunRefreshInterval = RefreshInterval }));
        Services.AddSingleton(TimeProvider.System);
    }

    protected FakeRegistry Registry { get; } = new();

    protected PlatformClient Client => new(_http, NullLogger<PlatformClient>.Instance);

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
        }
    }
}
