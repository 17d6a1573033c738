using Cronos;

namespace Flywheel.Core.Retraining;

/// <summary>Cron schedules of retraining: standard five-field expressions, evaluated in UTC.</summary>
public static class RetrainingSchedule
{
    /// <summary>Parses <paramref name="expression"/>, or says what is wrong with it.</summary>
    public static bool TryParse(string expression, out CronExpression? cron, out string? problem)
    {
        cron = null;
        problem = null;
        if (string.IsNullOrWhiteSpace(expression))
        {
            problem = "must be a cron expression (minute hour day-of-month month day-of-week), or null for no schedule.";
            return false;
        }

        try
        {
            cron = CronExpression.Parse(expression.Trim(), CronFormat.Standard);
            return true;
        }
        catch (CronFormatException exception)
        {
            problem = $"is not a cron expression (minute hour day-of-month month day-of-week): {exception.Message}";
            return false;
        }
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/>, or null when the expression never fires again.</summary>
    public static DateTimeOffset? NextOccurrence(string expression, DateTimeOffset after)
    {
        if (!TryParse(expression, out var cron, out var problem))
        {
            throw new ArgumentException(problem, nameof(expression));
        }

        return cron!.GetNextOccurrence(after, TimeZoneInfo.Utc, inclusive: false);
    }

    /// <summary>
    /// The latest occurrence in (<paramref name="since"/>, <paramref name="now"/>], or null when none is due.
    /// Occurrences missed while the orchestrator was down fold into one: retraining twice in a row
    /// on the same data would only repeat the run.
    /// </summary>
    public static DateTimeOffset? Due(string expression, DateTimeOffset since, DateTimeOffset now)
    {
        DateTimeOffset? due = null;
        var next = NextOccurrence(expression, since);
        while (next is { } occurrence && occurrence <= now)
        {
            due = occurrence;
            next = NextOccurrence(expression, occurrence);
        }

        return due;
    }
}
