using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Fakes;

/// <summary>Read models built in code, for the pure logic's tests.</summary>
public static class Views
{
    public static readonly DateTimeOffset Requested = new(2026, 1, 3, 10, 0, 0, TimeSpan.Zero);

    public static TrainingRunView Run(
        string state, IReadOnlyList<RunStepView>? steps = null, DateTimeOffset? updatedAt = null, string? trainer = null, RunSpecView? spec = null) => new(
        Guid.NewGuid(), "card-fraud", state, state, spec, "manual", "admin", Requested, updatedAt, steps ?? [], [],
        null, null, trainer, null, null, null, null);
}
