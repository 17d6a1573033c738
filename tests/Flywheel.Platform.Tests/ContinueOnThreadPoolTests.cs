using Flywheel.Inference.Serving;
using Microsoft.AspNetCore.Http;

namespace Flywheel.Platform.Tests;

/// <summary>
/// <see cref="Requests.ContinueOnThreadPool"/>: after a large or unsized body was read, the handler
/// goes on on the thread pool even when the work it awaited had finished on the pool before it
/// awaited it, which left it on the socket event thread that read the request.
/// </summary>
public sealed class ContinueOnThreadPoolTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData(1025L, true)]
    [InlineData(1024L, false)]
    [InlineData(10L, false)]
    public async Task From_a_thread_outside_the_pool_a_large_or_unsized_bodys_handler_goes_on_on_the_pool_and_a_small_ones_stays(long? length, bool moves)
    {
        var context = new DefaultHttpContext();
        context.Request.ContentLength = length;
        var outcome = new TaskCompletionSource<(bool StayedAfterFinishedWork, bool OnPool, bool SameThread)>(TaskCreationOptions.RunContinuationsAsynchronously);

        // A thread of its own stands in for a socket event thread (not a thread-pool thread).
        var thread = new Thread(() => _ = HandlerAsync()) { IsBackground = true, Name = "event thread" };
        thread.Start();
        var (stayed, onPool, sameThread) = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(30));
        thread.Join();

        Assert.True(stayed, "awaiting work the pool had already finished went on on the awaiting thread");
        Assert.Equal(moves, onPool);
        Assert.Equal(!moves, sameThread);

        async Task HandlerAsync()
        {
            var start = Thread.CurrentThread;
            // The shape that CI lost: the body's parse finished on the pool before the handler got
            // to its await, so the handler went on synchronously where it was.
            var parsed = Task.Run(() => 42);
            parsed.Wait();
            await parsed;
            var stayedAfterFinishedWork = Thread.CurrentThread == start;

            await Requests.ContinueOnThreadPool(context.Request, inlineBytes: 1024);
            outcome.SetResult((stayedAfterFinishedWork, Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread == start));
        }
    }

    [Fact]
    public async Task On_a_thread_pool_thread_already_the_handler_goes_on_where_it_is()
    {
        var context = new DefaultHttpContext();
        var (before, after) = await Task.Run(async () =>
        {
            var start = Thread.CurrentThread;
            await Requests.ContinueOnThreadPool(context.Request, inlineBytes: 1024);
            return (start, Thread.CurrentThread);
        });

        Assert.Same(before, after);
    }
}
