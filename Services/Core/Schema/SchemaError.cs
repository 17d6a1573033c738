namespace Flywheel.Core.Schema;

/// <summary>A problem with one field: of a schema definition, or of a data row (with its line).</summary>
public sealed record FieldError(string Field, string Message, long? Line = null);
