using System.Net;
using System.Net.Sockets;

namespace Flywheel.Core.Serving;

/// <summary>Who sent a request, as limits per client name it.</summary>
public static class ClientAddress
{
    /// <summary>
    /// The name a limit keeps a client under: an IPv4 address as it is (an IPv4 address mapped into
    /// IPv6 counts as itself), an IPv6 address by its /64 network, the block one subscriber is
    /// usually given, so cycling through its own addresses does not earn a client more.
    /// </summary>
    public static string LimitKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
