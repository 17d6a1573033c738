namespace Flywheel.Core.Schema;

/// <summary>
/// A problem with one field: of a schema definition, or of a data row (with its line). For rows,
/// <see cref="Code"/> names the kind of problem for reports: <c>required</c>, <c>type</c>,
/// <c>range</c>, <c>category</c>, <c>unknown_column</c>, <c>length</c> or <c>time</c>.
/// </summary>
public sealed record FieldError(string Field, string Message, long? Line = null, string? Code = null);
