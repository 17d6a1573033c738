using System.Security.Cryptography;
using System.Text;

namespace Flywheel.Core.Serving;

/// <summary>
/// API keys are stored as their SHA-256 (<c>registry.api_keys.key_hash</c>); a key is looked up by
/// the hash of what the caller presents, by the registry and the gateway alike.
/// </summary>
public static class ApiKeyHash
{
    public static byte[] Compute(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Lower-case hex, as <c>encode(key_hash, 'hex')</c> writes it in the change notification.</summary>
    public static string Hex(ReadOnlySpan<byte> hash) => Convert.ToHexStringLower(hash);
}
