namespace Flywheel.Training;

/// <summary>
/// One labelled row of a training snapshot, typed as <c>RowValidator</c> left it. Feature values are
/// <see cref="double"/> for numeric features, <see cref="string"/> for categorical ones,
/// <see cref="bool"/> for boolean ones and null (or absent) when missing. The target is a
/// <see cref="bool"/> for a boolean target, a <see cref="string"/> for a categorical one and a
/// <see cref="double"/> for a numeric one. <see cref="EventTime"/> orders a time-based split.
/// </summary>
public sealed record TrainingRow(DateTimeOffset? EventTime, IReadOnlyDictionary<string, object?> Features, object? Target);

/// <summary>
/// Training could not go ahead for a reason the model's owner can act on (one class only, an empty
/// training set, a target the task cannot use); the message is written to be shown to them as is.
/// </summary>
public sealed class TrainingException(string message) : Exception(message);
