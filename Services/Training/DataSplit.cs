namespace Flywheel.Training;

/// <summary>A training set and the held-out rows it is evaluated on; <see cref="Method"/> is <see cref="DataSplit.Time"/> or <see cref="DataSplit.Random"/>.</summary>
public sealed record DataSplitResult(IReadOnlyList<TrainingRow> Train, IReadOnlyList<TrainingRow> Test, string Method);

/// <summary>
/// Splits a snapshot into training and test rows, deterministically so a run can be repeated. When
/// every row has an event time the latest rows are the test set: a model is judged on the future it
/// will face, not on rows interleaved with the ones it learnt from. Otherwise the split is a seeded
/// shuffle, and each part keeps the snapshot's order.
/// </summary>
public static class DataSplit
{
    public const string Time = "time";
    public const string Random = "random";

    public static DataSplitResult Split(IReadOnlyList<TrainingRow> rows, int seed, double testFraction = 0.2)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(testFraction);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(testFraction, 1);
        if (rows.Count < 2)
        {
            throw new TrainingException($"At least 2 rows are needed to hold some out for testing; the snapshot has {rows.Count}.");
        }

        var testCount = Math.Clamp((int)Math.Round(rows.Count * testFraction, MidpointRounding.AwayFromZero), 1, rows.Count - 1);

        if (rows.All(r => r.EventTime is not null))
        {
            // OrderBy is a stable sort: rows with equal times keep their snapshot order, so ties split the same way every time.
            var byTime = rows.OrderBy(r => r.EventTime!.Value).ToArray();
            return new DataSplitResult(byTime[..^testCount], byTime[^testCount..], Time);
        }

        var order = Enumerable.Range(0, rows.Count).ToArray();
        new System.Random(seed).Shuffle(order);
        var inTest = new bool[rows.Count];
        foreach (var index in order.AsSpan(0, testCount))
        {
            inTest[index] = true;
        }

        var train = new List<TrainingRow>(rows.Count - testCount);
        var test = new List<TrainingRow>(testCount);
        for (var i = 0; i < rows.Count; i++)
        {
            (inTest[i] ? test : train).Add(rows[i]);
        }

        return new DataSplitResult(train, test, Random);
    }
}
