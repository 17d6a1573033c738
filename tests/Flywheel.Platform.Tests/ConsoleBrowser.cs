using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Debian's chromium, headless, driven by Playwright against the console through the gateway;
/// shared by every browser test so each starts and waits for pages the same way. Screenshots land
/// in .flywheel/test-results/console (docs/images and the README take theirs from there).
/// </summary>
public sealed class ConsoleBrowser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly FlywheelApp _flywheel;

    private ConsoleBrowser(IPlaywright playwright, IBrowser browser, FlywheelApp flywheel)
    {
        _playwright = playwright;
        _browser = browser;
        _flywheel = flywheel;
    }

    public static async Task<ConsoleBrowser> LaunchAsync(FlywheelApp flywheel)
    {
        // A page's answer needs a round trip to the registry and a re-render over the circuit: on two
        // cores shared with the whole platform and the other test projects, Playwright's default of
        // five seconds is sometimes too short. An expectation polls, so a passing one waits no longer.
        SetDefaultExpectTimeout(20_000);
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Environment.GetEnvironmentVariable("FLYWHEEL_CHROMIUM") ?? "/usr/bin/chromium",
                Headless = true,
                // Playwright gives every launch a fresh, temporary profile of its own.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            });
            return new ConsoleBrowser(playwright, browser, flywheel);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A new page (its own cookies) with the gateway as base address, at laptop width unless told.</summary>
    public Task<IPage> NewPageAsync(int width = 1280, int height = 800) =>
        _browser.NewPageAsync(new BrowserNewPageOptions
        {
            BaseURL = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway).BaseAddress!.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });

    /// <summary>
    /// Loads a page and waits until its circuit is connected: a click before then is a plain page
    /// load (or nothing), and a circuit that connects after it can render the page it started on.
    /// </summary>
    public static async Task GoToAsync(IPage page, string url)
    {
        await page.GotoAsync(url);
        await Expect(page.Locator("header[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = 30_000 });
    }

    /// <summary>
    /// A prerendered page shows its buttons before its interactive circuit is connected, and a
    /// click in that moment does nothing; click again until the click has its effect.
    /// </summary>
    public static async Task ClickUntilVisibleAsync(ILocator button, ILocator effect)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                // A click that navigated removes the button; the next attempt only looks for the effect.
                if (await button.CountAsync() > 0)
                {
                    await button.ClickAsync(new() { Timeout = 2_000 });
                }

                await Expect(effect).ToBeVisibleAsync(new() { Timeout = 1_000 });
                return;
            }
            catch (PlaywrightException) when (attempt < 19)
            {
            }
        }
    }

    /// <summary>The whole page, or only <paramref name="part"/> of it, as <c>{name}.png</c>.</summary>
    public async Task ScreenshotAsync(IPage page, string name, ILocator? part = null)
    {
        var directory = Path.Combine(_flywheel.DataDirectory, "..", "..", "test-results", "console");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{name}.png");
        if (part is null)
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        }
        else
        {
            await part.ScreenshotAsync(new LocatorScreenshotOptions { Path = path });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
