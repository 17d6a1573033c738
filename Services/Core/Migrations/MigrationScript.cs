using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Flywheel.Core.Migrations;

/// <summary>
/// One forward-only schema migration. Its id orders it (<c>0001_schemas</c> runs before
/// <c>0002_models</c>); its checksum pins its text once applied.
/// </summary>
public sealed record MigrationScript
{
    public MigrationScript(string id, string sql)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(sql);
        if (!IsValidId(id))
        {
            throw new ArgumentException(
                $"Migration id '{id}' must start with a four-digit sequence number and an underscore, e.g. '0001_schemas'.",
                nameof(id));
        }

        Id = id;
        Sql = sql;
        Checksum = ComputeChecksum(sql);
    }

    public string Id { get; }

    public string Sql { get; }

    /// <summary>Lower-case hex SHA-256 of the script with line endings normalised to LF.</summary>
    public string Checksum { get; }

    public int Sequence => int.Parse(Id.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>Line endings are normalised so a checkout with CRLF does not look like an edited migration.</summary>
    public static string ComputeChecksum(string sql)
    {
        var normalised = sql.Replace("\r\n", "\n", StringComparison.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
    }

    private static bool IsValidId(string id) =>
        id.Length > 5 && id[..4].All(char.IsAsciiDigit) && id[4] == '_' &&
        id[5..].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}

/// <summary>A migration recorded as applied in the database's history table.</summary>
public sealed record AppliedMigration(string Id, string Checksum);
