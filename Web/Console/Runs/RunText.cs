using System.Globalization;
using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Runs;

/// <summary>A run's request in words.</summary>
public static class RunText
{
    /// <summary>The trainer that ran, and what was asked for when that differs ("auto" resolves to a trainer).</summary>
    public static string Trainer(TrainingRunView run) => (run.Trainer, run.Spec?.Trainer) switch
    {
        (null, null) => "—",
        (null, { } asked) => asked,
        ({ } used, { } asked) when !string.Equals(used, asked, StringComparison.Ordinal) => $"{used} (asked for {asked})",
        ({ } used, _) => used,
    };

    public static string Search(RunSpecView? spec) => spec is { SearchTrials: > 0 } ? $"{spec.SearchTrials} trials" : "none";

    /// <summary>The event-time window the run trains on: "all data", "from …", "until …" or "… to …".</summary>
    public static string Window(RunSpecView? spec) => (spec?.From, spec?.To) switch
    {
        (null, null) => "all data",
        ({ } from, null) => $"from {Format.Timestamp(from)}",
        (null, { } to) => $"until {Format.Timestamp(to)}",
        ({ } from, { } to) => $"{Format.Timestamp(from)} to {Format.Timestamp(to)}",
    };

    public static string Seed(RunSpecView? spec) => spec?.Seed?.ToString(CultureInfo.InvariantCulture) ?? "—";
}
