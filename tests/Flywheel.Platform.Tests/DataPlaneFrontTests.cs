using System.Net.Sockets;
using System.Text;
using Flywheel.Contracts.Serving;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The fast path behind the gateway's own TCP front (<see cref="Flywheel.Gateway.Proxy.DataPlaneFront"/>):
/// every test of the connection middleware again, with each connection accepted by the front and
/// served on a thread of its own until a request is not the fast path's; and what only the front
/// does: its threads, its limit, and what it gives Kestrel untouched.
/// </summary>
public sealed class DataPlaneFrontTests : DataPlaneFastPathTests
{
    protected override int FrontThreads => 256;

    [Fact]
    public async Task Each_connection_is_served_on_a_thread_of_its_own_that_ends_with_it()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using (var first = await RawConnection.OpenAsync(front.Port))
        using (var second = await RawConnection.OpenAsync(front.Port))
        {
            await first.SendAsync(PredictRequest("one"));
            await second.SendAsync(PredictRequest("two"));
            Assert.Equal("one", (await first.ReadEchoAsync()).Body);
            Assert.Equal("two", (await second.ReadEchoAsync()).Body);
            Assert.Equal(2, front.TcpFront.Threads);
        }

        await WaitUntilAsync(() => front.TcpFront.Threads == 0);
        Assert.Equal(2, await front.TakenAsync(2));
        Assert.Equal(0, front.FastPath.HandedOff);
        Assert.Equal(0, front.PipelineRequests);
    }

    [Fact]
    public async Task Connections_beyond_its_threads_go_to_kestrel_where_the_connection_middleware_takes_their_calls()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address], threads: 1);
        using var first = await RawConnection.OpenAsync(front.Port);
        await first.SendAsync(PredictRequest("on a thread"));
        Assert.Equal("on a thread", (await first.ReadEchoAsync()).Body);

        using var second = await RawConnection.OpenAsync(front.Port);
        await second.SendAsync(PredictRequest("through kestrel"));
        Assert.Equal("through kestrel", (await second.ReadEchoAsync()).Body);

        Assert.Equal(1, front.TcpFront.Threads);
        Assert.Equal(2, await front.TakenAsync(2));
        // Not declined: Kestrel got it because the threads were taken, and its middleware took the call.
        Assert.Equal(0, front.FastPath.HandedOff);
        Assert.Equal(0, front.PipelineRequests);
    }

    [Fact]
    public async Task Bytes_that_are_not_http_reach_kestrel_as_they_came()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        // The start of a TLS ClientHello: Kestrel's plain HTTP/1.1 handler refuses it as a malformed request line.
        await connection.Socket.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00, 0x0d, 0x0a, 0x0d, 0x0a }, SocketFlags.None);
        var answer = await ReadToEndAsync(connection.Socket);

        Assert.StartsWith("HTTP/1.1 400 Bad Request", answer, StringComparison.Ordinal);
        Assert.Equal(1, front.FastPath.HandedOff);
        Assert.Equal(0, front.FastPath.Taken);
        await WaitUntilAsync(() => front.TcpFront.Threads == 0);
    }

    [Fact]
    public async Task A_stopping_gateway_finishes_the_call_in_progress_says_so_and_then_closes()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);
        await connection.SendAsync(PredictRequest("x").Replace("echo:predict", "delayed:predict", StringComparison.Ordinal));
        await worker.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var stopping = front.App.StopAsync();
        var answer = await ReadToEndAsync(connection.Socket);
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
        Assert.Contains("Connection: close\r\n", answer, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\ndelayed", answer, StringComparison.Ordinal);
        Assert.Equal(1, await front.TakenAsync(1));
        Assert.Equal(0, front.TcpFront.Threads);
    }

    [Fact]
    public async Task A_connection_idle_past_the_threads_limit_goes_to_kestrel_where_its_next_call_still_takes_the_fast_path()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address], gateway: options => options.FastPathThreadIdleTimeout = TimeSpan.FromMilliseconds(300));
        using var connection = await RawConnection.OpenAsync(front.Port);
        await connection.SendAsync(PredictRequest("before"));
        Assert.Equal("before", (await connection.ReadEchoAsync()).Body);

        await WaitUntilAsync(() => front.TcpFront.Threads == 0);
        await connection.SendAsync(PredictRequest("after"));
        var echo = await connection.ReadEchoAsync();

        Assert.Equal("after", echo.Body);
        Assert.Equal(TrafficRoles.Production, echo.Traffic);
        Assert.Equal(2, await front.TakenAsync(2));
        Assert.Equal(0, front.FastPath.HandedOff);
        Assert.Equal(0, front.PipelineRequests);
    }

    [Fact]
    public async Task A_body_that_stalls_past_the_header_timeout_and_grace_goes_to_kestrel_with_what_came_and_the_pipeline_answers_it_whole()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address], kestrel: options =>
        {
            options.Limits.RequestHeadersTimeout = TimeSpan.FromMilliseconds(500);
            options.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1, gracePeriod: TimeSpan.FromSeconds(1.5));
        });
        using var connection = await RawConnection.OpenAsync(front.Port);
        var request = PredictRequest("a body that stalls halfway");

        await connection.SendAsync(request[..^10]);
        await WaitUntilAsync(() => front.FastPath.HandedOff == 1);
        Assert.Equal(0, front.TcpFront.Threads);
        await connection.SendAsync(request[^10..]);
        var echo = await connection.ReadEchoAsync();

        Assert.Equal("a body that stalls halfway", echo.Body);
        Assert.Equal("pipeline", echo.Traffic);
        Assert.Equal(0, front.FastPath.Taken);
        Assert.Equal(1, front.PipelineRequests);
    }

    /// <summary>Everything the gateway sends until it closes the connection.</summary>
    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var count = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (count == 0)
            {
                return Encoding.Latin1.GetString([.. received]);
            }

            received.AddRange(buffer.AsSpan(0, count));
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition) => Assert.True(await SettledAsync(condition));
}
