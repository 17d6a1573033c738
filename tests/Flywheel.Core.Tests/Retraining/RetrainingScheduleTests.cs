using Flywheel.Core.Retraining;

namespace Flywheel.Core.Tests.Retraining;

public sealed class RetrainingScheduleTests
{
    private static readonly DateTimeOffset Monday = new(2026, 3, 2, 10, 17, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0 3 * * *", "2026-03-03T03:00:00Z")]      // daily at 03:00: 10:17 has passed today
    [InlineData("*/15 * * * *", "2026-03-02T10:30:00Z")]   // every quarter hour
    [InlineData("0 0 * * 0", "2026-03-08T00:00:00Z")]      // Sundays at midnight
    [InlineData("30 10 1 * *", "2026-04-01T10:30:00Z")]    // the first of each month, 10:30
    public void The_next_occurrence_is_the_first_one_after_the_given_time_in_utc(string cron, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), RetrainingSchedule.NextOccurrence(cron, Monday));

    [Fact]
    public void An_occurrence_at_exactly_the_given_time_is_not_the_next_one() =>
        Assert.Equal(new DateTimeOffset(2026, 3, 3, 10, 17, 0, TimeSpan.Zero), RetrainingSchedule.NextOccurrence("17 10 * * *", Monday));

    [Fact]
    public void Occurrences_missed_while_down_fold_into_the_latest_one()
    {
        var due = RetrainingSchedule.Due("0 * * * *", since: Monday, now: Monday.AddHours(5).AddMinutes(1));

        Assert.Equal(new DateTimeOffset(2026, 3, 2, 15, 0, 0, TimeSpan.Zero), due);
    }

    [Fact]
    public void Nothing_is_due_before_the_next_occurrence() =>
        Assert.Null(RetrainingSchedule.Due("0 3 * * *", since: Monday, now: Monday.AddHours(12)));

    [Theory]
    [InlineData("")]
    [InlineData("every day")]
    [InlineData("61 * * * *")]
    [InlineData("0 0 * * * *")]
    public void A_bad_expression_is_refused_with_a_message(string cron)
    {
        Assert.False(RetrainingSchedule.TryParse(cron, out _, out var problem));
        Assert.Contains("cron expression", problem);
        Assert.Contains(new RetrainingPolicy(Schedule: cron).Validate(), e => e.Field == "retraining.schedule");
    }
}
