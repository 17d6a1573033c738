using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Training.Tests;

public sealed class DataSplitTests
{
    private static List<TrainingRow> Untimed(int count) =>
        [.. SyntheticData.Rows(ModelTask.Regression, count).Select(r => r with { EventTime = null })];

    [Fact]
    public void Rows_that_all_have_times_split_by_time_with_the_latest_in_test()
    {
        var rows = SyntheticData.Rows(ModelTask.Regression, count: 100);
        var random = new Random(5);
        var shuffled = rows.OrderBy(_ => random.Next()).ToList();

        var split = DataSplit.Split(shuffled, seed: 1, testFraction: 0.25);

        Assert.Equal(DataSplit.Time, split.Method);
        Assert.Equal(75, split.Train.Count);
        Assert.Equal(25, split.Test.Count);
        Assert.True(split.Train.Max(r => r.EventTime) < split.Test.Min(r => r.EventTime));
        Assert.Equal(rows.TakeLast(25), split.Test);
    }

    [Fact]
    public void Rows_with_equal_times_keep_their_snapshot_order_across_the_boundary()
    {
        var time = DateTimeOffset.UnixEpoch;
        var rows = SyntheticData.Rows(ModelTask.Regression, count: 10).Select(r => r with { EventTime = time }).ToList();

        var split = DataSplit.Split(rows, seed: 1);

        Assert.Equal(rows[..8], split.Train);
        Assert.Equal(rows[8..], split.Test);
    }

    [Fact]
    public void Rows_without_times_split_at_random_the_same_way_for_the_same_seed()
    {
        var rows = Untimed(200);

        var first = DataSplit.Split(rows, seed: 11);
        var again = DataSplit.Split(rows, seed: 11);
        var other = DataSplit.Split(rows, seed: 12);

        Assert.Equal(DataSplit.Random, first.Method);
        Assert.Equal(first.Test, again.Test);
        Assert.Equal(first.Train, again.Train);
        Assert.NotEqual(first.Test, other.Test);
    }

    [Fact]
    public void A_random_split_is_a_partition_in_snapshot_order()
    {
        var rows = Untimed(200);

        var split = DataSplit.Split(rows, seed: 3, testFraction: 0.3);

        Assert.Equal(60, split.Test.Count);
        Assert.Equal(rows.Count, split.Train.Concat(split.Test).Distinct().Count());
        Assert.Equal(rows.Where(split.Test.Contains), split.Test);
        Assert.Equal(rows.Where(split.Train.Contains), split.Train);
    }

    [Fact]
    public void One_row_without_a_time_makes_the_split_random()
    {
        var rows = SyntheticData.Rows(ModelTask.Regression, count: 50);
        rows[10] = rows[10] with { EventTime = null };

        Assert.Equal(DataSplit.Random, DataSplit.Split(rows, seed: 1).Method);
    }

    [Theory]
    [InlineData(2, 0.01)]
    [InlineData(2, 0.99)]
    [InlineData(10, 0.001)]
    public void Both_parts_get_at_least_one_row(int count, double testFraction)
    {
        var split = DataSplit.Split(Untimed(count), seed: 1, testFraction);

        Assert.NotEmpty(split.Train);
        Assert.NotEmpty(split.Test);
    }

    [Fact]
    public void A_single_row_cannot_be_split() =>
        Assert.Throws<TrainingException>(() => DataSplit.Split(Untimed(1), seed: 1));
}
