namespace Flywheel.Core.Migrations;

/// <summary>
/// Decides which migrations still have to run, and refuses to run any when the history in the
/// database no longer matches the scripts that ship with this build (an applied script was
/// edited, or the database is newer than the code).
/// </summary>
public static class MigrationPlan
{
    public static IReadOnlyList<MigrationScript> Pending(
        IEnumerable<MigrationScript> available, IEnumerable<AppliedMigration> applied)
    {
        ArgumentNullException.ThrowIfNull(available);
        ArgumentNullException.ThrowIfNull(applied);

        var scripts = available.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
        var problems = new List<string>();

        foreach (var group in scripts.GroupBy(s => s.Sequence).Where(g => g.Count() > 1))
        {
            problems.Add($"Migrations {string.Join(" and ", group.Select(s => $"'{s.Id}'"))} share sequence number {group.Key:D4}.");
        }

        var byId = scripts.ToDictionary(s => s.Id, StringComparer.Ordinal);
        var appliedIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var done in applied)
        {
            appliedIds.Add(done.Id);
            if (!byId.TryGetValue(done.Id, out var script))
            {
                problems.Add($"The database has migration '{done.Id}' applied, which this build does not know: it was made by a newer version.");
            }
            else if (!string.Equals(script.Checksum, done.Checksum, StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"Migration '{done.Id}' was edited after it was applied (checksum {done.Checksum} in the database, {script.Checksum} now). Add a new migration instead.");
            }
        }

        var pending = scripts.Where(s => !appliedIds.Contains(s.Id)).ToList();
        var lastApplied = scripts.Where(s => appliedIds.Contains(s.Id)).Select(s => s.Sequence).DefaultIfEmpty(0).Max();
        foreach (var gap in pending.Where(s => s.Sequence < lastApplied))
        {
            problems.Add($"Migration '{gap.Id}' is older than migrations already applied; it would run out of order.");
        }

        return problems.Count > 0 ? throw new MigrationHistoryException(problems) : pending;
    }
}

public sealed class MigrationHistoryException(IReadOnlyList<string> problems)
    : Exception("The database's migration history does not match this build: " + string.Join(" ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
