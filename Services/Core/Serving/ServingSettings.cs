using System.Text.Json.Serialization;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>What a request may do with a category the model's schema does not list.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<UnknownCategoryPolicy>))]
public enum UnknownCategoryPolicy
{
    /// <summary>400 with the field: the caller learns its value is not one the model knows.</summary>
    Reject,

    /// <summary>Served as an unseen category (the model's encoding gives it no weight).</summary>
    Allow,
}

/// <summary>
/// How one model is served (<c>registry.models.serving</c>, snake_case JSON): micro-batching,
/// the opt-in prediction cache and the unknown-category policy. Missing fields take the defaults.
/// </summary>
public sealed record ServingSettings
{
    public const int MaxAllowedBatchSize = 1024;
    public const double MaxAllowedBatchWaitMs = 100;
    public const int MaxCacheTtlSeconds = 86_400;

    /// <summary>Most requests coalesced into one ONNX Runtime call.</summary>
    public int MaxBatchSize { get; init; } = 64;

    /// <summary>
    /// 0 (the default): no request is held; requests that find the version's scoring slots busy
    /// are scored together by the next one to finish. Positive: the longest a request waits for
    /// others to join its batch, when others are in progress or one arrived within this wait; a
    /// request after a quiet stretch is scored at once (see <see cref="BatchAdmission"/>).
    /// </summary>
    public double MaxBatchWaitMs { get; init; }

    public bool CacheEnabled { get; init; }

    public int CacheTtlSeconds { get; init; } = 300;

    public UnknownCategoryPolicy UnknownCategories { get; init; } = UnknownCategoryPolicy.Reject;

    public static ServingSettings Default { get; } = new();

    /// <summary>Every setting out of its range, by field.</summary>
    public IReadOnlyList<FieldError> Validate()
    {
        var errors = new List<FieldError>();
        if (MaxBatchSize is < 1 or > MaxAllowedBatchSize)
        {
            errors.Add(new("max_batch_size", $"must be between 1 and {MaxAllowedBatchSize}."));
        }

        if (!double.IsFinite(MaxBatchWaitMs) || MaxBatchWaitMs < 0 || MaxBatchWaitMs > MaxAllowedBatchWaitMs)
        {
            errors.Add(new("max_batch_wait_ms", $"must be between 0 and {MaxAllowedBatchWaitMs}."));
        }

        if (CacheTtlSeconds is < 1 or > MaxCacheTtlSeconds)
        {
            errors.Add(new("cache_ttl_seconds", $"must be between 1 and {MaxCacheTtlSeconds}."));
        }

        return errors;
    }
}
