using Flywheel.Core.Schema;

namespace Flywheel.Core.Profiles;

/// <summary>
/// What a model version was trained on and what it predicted, kept with the version so a drift
/// monitor can compare each live window against it. Plain records with public properties: it is
/// stored as JSON by the caller's serializer options.
/// </summary>
/// <param name="Rows">Training rows profiled.</param>
/// <param name="Features">One profile per schema feature, in schema order.</param>
/// <param name="Prediction">The distribution of the model's scores on the rows it was given for this.</param>
public sealed record ReferenceProfile(long Rows, IReadOnlyList<FeatureProfile> Features, NumericProfile Prediction);

/// <summary>
/// One feature's training distribution. <see cref="Count"/> values were present and
/// <see cref="Missing"/> were null or absent; <see cref="MissingRate"/> is Missing / Rows (0 when
/// there are no rows). <see cref="Numeric"/> is set for numeric features and
/// <see cref="Categorical"/> for categorical and boolean ones (booleans as "true"/"false"), even
/// when every value is missing. For a PII feature both are null: only counts are kept, so none of
/// its values ever lands in the registry.
/// </summary>
public sealed record FeatureProfile(
    string Name,
    FeatureType Type,
    long Count,
    long Missing,
    double MissingRate,
    NumericProfile? Numeric,
    CategoricalProfile? Categorical);

/// <summary>
/// A categorical distribution: the most frequent <see cref="ProfileBuilder.MaxCategories"/> values
/// seen, by count descending and then by value in ordinal order, and how many values fell outside
/// them. A live value outside <see cref="Categories"/> belongs with <see cref="OtherCount"/>.
/// </summary>
public sealed record CategoricalProfile(long Count, IReadOnlyList<CategoryFrequency> Categories, long OtherCount);

/// <summary>A value of a categorical feature, its count and its share of the feature's present values.</summary>
public sealed record CategoryFrequency(string Value, long Count, double Share);
