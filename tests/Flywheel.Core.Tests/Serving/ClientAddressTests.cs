using System.Net;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class ClientAddressTests
{
    [Theory]
    [InlineData("203.0.113.5", "203.0.113.5")]
    [InlineData("::ffff:203.0.113.5", "203.0.113.5")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64")]
    [InlineData("::1", "::/64")]
    public void IPv4_clients_are_limited_by_address_and_IPv6_ones_by_their_64_bit_network(string address, string key) =>
        Assert.Equal(key, ClientAddress.LimitKey(IPAddress.Parse(address)));

    [Fact]
    public void A_request_without_a_peer_address_is_limited_under_one_name() =>
        Assert.Equal("unknown", ClientAddress.LimitKey(null));
}
