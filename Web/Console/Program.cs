using Flywheel.Console;
using Flywheel.Console.Components;
using Flywheel.Console.Security;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddConsoleServices();

var app = builder.Build();

app.UseExceptionHandler("/error", createScopeForErrors: true);
app.UseAuthentication();
app.UseAntiforgery();
app.MapDefaultEndpoints();
app.MapStaticAssets();
app.MapSignInApi();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();
