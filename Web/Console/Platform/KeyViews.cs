namespace Flywheel.Console.Platform;

// API keys as the registry lists and creates them (admin only): docs/console.md, "Keys".

public sealed record ApiKeyList(IReadOnlyList<ApiKeyView> Keys);

/// <summary>A key as listed: never the key itself, never its hash. Null limits are the gateway's defaults; null models, every model.</summary>
public sealed record ApiKeyView(
    Guid Id,
    string Name,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string>? Models,
    int? RequestsPerSecond,
    long? DailyQuota,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset? RevokedAt);

/// <summary>The only answer that carries the key itself: the console shows it once and keeps it nowhere.</summary>
public sealed record CreatedApiKeyView(
    Guid Id,
    string Name,
    string Key,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string>? Models,
    int? RequestsPerSecond,
    long? DailyQuota,
    DateTimeOffset CreatedAt,
    string CreatedBy);

/// <summary>The body of <c>POST /api/keys</c>.</summary>
public sealed record CreateApiKeyBody(string Name, IReadOnlyList<string> Roles, IReadOnlyList<string>? Models, int? RequestsPerSecond, long? DailyQuota);
