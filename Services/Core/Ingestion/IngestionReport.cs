using Flywheel.Core.Schema;

namespace Flywheel.Core.Ingestion;

/// <summary>
/// What one ingestion saw: rows accepted, rejected and dropped as duplicates, and per feature the
/// share of missing values among accepted rows and the count of each kind of problem. Errors are
/// kept up to a cap (the full list lives in the quarantine). Problems are counted per field for the
/// schema's features, the reserved columns and up to <see cref="MaxOtherProblemFields"/> other names
/// (unknown columns); any further names are counted together under <see cref="OtherFields"/>, so a
/// body that names a new column on every line cannot grow the report.
/// </summary>
public sealed class IngestionReport(IReadOnlyList<string> features, int maxErrors = IngestionReport.DefaultMaxErrors)
{
    public const int DefaultMaxErrors = 100;

    /// <summary>Field names outside the schema that get problem counts of their own.</summary>
    public const int MaxOtherProblemFields = 100;

    /// <summary>Where problems of further field names are counted once <see cref="MaxOtherProblemFields"/> is reached.</summary>
    public const string OtherFields = "(other columns)";

    private readonly HashSet<string> _known = new(features, StringComparer.Ordinal);
    private int _otherFields;

    private readonly Dictionary<string, long> _missing = features.ToDictionary(f => f, _ => 0L, StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, long>> _problems = new(StringComparer.Ordinal);
    private readonly List<FieldError> _errors = [];

    public long Accepted { get; private set; }

    public long Rejected { get; private set; }

    public long Duplicates { get; private set; }

    public long ErrorsNotListed { get; private set; }

    public IReadOnlyList<FieldError> Errors => _errors;

    public void Add(RowValidation row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.IsValid)
        {
            Accepted++;
            foreach (var (name, value) in row.Features)
            {
                if (value is null && _missing.TryGetValue(name, out var count))
                {
                    _missing[name] = count + 1;
                }
            }

            return;
        }

        Rejected++;
        foreach (var error in row.Errors)
        {
            var field = FieldToCount(error.Field);
            if (!_problems.TryGetValue(field, out var kinds))
            {
                kinds = new(StringComparer.Ordinal);
                _problems[field] = kinds;
            }

            var kind = error.Code ?? "invalid";
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            if (_errors.Count < maxErrors)
            {
                _errors.Add(error);
            }
            else
            {
                ErrorsNotListed++;
            }
        }
    }

    private string FieldToCount(string field)
    {
        if (_known.Contains(field) || _problems.ContainsKey(field))
        {
            return field;
        }

        if (_otherFields < MaxOtherProblemFields)
        {
            _otherFields++;
            return field;
        }

        return OtherFields;
    }

    /// <summary>Rows the store already had (same event id) are not accepted twice.</summary>
    public void CountDuplicates(long duplicates)
    {
        Duplicates += duplicates;
        Accepted -= duplicates;
    }

    public IReadOnlyDictionary<string, double> MissingRates =>
        _missing.ToDictionary(pair => pair.Key, pair => Accepted + Duplicates == 0 ? 0 : (double)pair.Value / (Accepted + Duplicates), StringComparer.Ordinal);

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Problems =>
        _problems.ToDictionary(pair => pair.Key, pair => (IReadOnlyDictionary<string, long>)pair.Value, StringComparer.Ordinal);
}
