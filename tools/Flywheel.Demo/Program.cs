using System.Runtime.InteropServices;
using Flywheel.Demo;

// The first-run demo: seeds the card-fraud model on a running platform (or resumes it) and drives
// live traffic and feedback through the gateway until Ctrl+C or SIGTERM.
var options = DemoOptions.Parse(args, Environment.GetEnvironmentVariable, Path.Combine(Environment.CurrentDirectory, ".flywheel"), out var error);
if (options is null)
{
    await Console.Error.WriteLineAsync(error);
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

var runner = new DemoRunner(options, Console.WriteLine);
return await runner.RunAsync(stop.Token) ? 0 : 1;
