using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// The output cap (<see cref="Limits.OutputSize"/>, <c>--output-limit</c>): the sandbox's stdout and stderr are pipes
/// the executor owns. It pumps both to their real destinations, waiting for data on the monitor's epoll loop (no thread
/// per sandbox; a thread-pool thread only while bytes are copied), delivers exactly the first <c>limit</c> bytes of the
/// two together, intact and in the order they were read, and on the first byte past the limit ends the sandbox
/// (SIGNALED, OUTPUT_LIMIT). Whatever comes after is read and dropped until the pipes close.
/// </summary>
internal sealed class OutputLimit : IDisposable
{
    private const int ChunkBytes = 64 * 1024;
    private readonly ulong _limit;
    private readonly (SafeFdHandle Read, SafeFdHandle Write, SafeHandle Destination)[] _streams;
    private long _delivered;
    private int _exceeded;

    private OutputLimit(ulong limit, (SafeFdHandle, SafeFdHandle, SafeHandle)[] streams)
    {
        _limit = limit;
        _streams = streams;
    }

    /// <summary>Pipes for stdout and stderr, delivering to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static unsafe OutputLimit Create(ulong limit, SafeHandle stdout, SafeHandle stderr)
    {
        var streams = new (SafeFdHandle, SafeFdHandle, SafeHandle)[2];
        int made = 0;
        int* p = stackalloc int[2];
        try
        {
            foreach (var destination in new[] { stdout, stderr })
            {
                if (Interop.Pipe2(p, Interop.O_CLOEXEC) != 0)
                    throw new IOException($"pipe2 for the output limit failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                var read = new SafeFdHandle(p[0]);
                _ = Interop.Fcntl(read, Interop.F_SETFL, Interop.O_NONBLOCK);
                streams[made++] = (read, new SafeFdHandle(p[1]), destination);
            }
        }
        catch
        {
            for (int i = 0; i < made; i++) { streams[i].Item1.Dispose(); streams[i].Item2.Dispose(); }
            throw;
        }
        return new OutputLimit(limit, streams);
    }

    /// <summary>The write end the sandbox gets as its stdout.</summary>
    public SafeFdHandle StdoutPipe => _streams[0].Write;
    /// <summary>The write end the sandbox gets as its stderr.</summary>
    public SafeFdHandle StderrPipe => _streams[1].Write;

    /// <summary>Closes the executor's copies of the write ends (after the sandbox got them): EOF comes when it ends.</summary>
    public void CloseWriteEnds()
    {
        foreach (var s in _streams) s.Write.Dispose();
    }

    /// <summary>Pumps both pipes until EOF; calls <paramref name="exceeded"/> once when the limit is passed.</summary>
    public Task PumpAsync(Action exceeded, CancellationToken cancellationToken) =>
        Task.WhenAll(_streams.Select(s => Task.Run(() => PumpOneAsync(s.Read, s.Destination, exceeded, cancellationToken), CancellationToken.None)));

    private async Task PumpOneAsync(SafeFdHandle pipe, SafeHandle destination, Action exceeded, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkBytes];
        while (true)
        {
            int n = ReadSome(pipe, buffer, out int errno);
            if (n == 0) return; // EOF: every process of the sandbox is gone
            if (n < 0)
            {
                if (errno == Interop.EINTR) continue;
                if (errno != Interop.EAGAIN) return;
                await Monitor.Shared.WaitReadableAsync(pipe, cancellationToken).ConfigureAwait(false);
                continue;
            }
            long before = Interlocked.Add(ref _delivered, n) - n;
            long allowed = Math.Clamp((long)_limit - before, 0, n);
            if (allowed > 0) WriteAll(destination, buffer.AsSpan(0, (int)allowed));
            if (allowed < n && Interlocked.Exchange(ref _exceeded, 1) == 0) exceeded();
        }
    }

    private static unsafe int ReadSome(SafeFdHandle fd, byte[] buffer, out int errno)
    {
        fixed (byte* p = buffer)
        {
            nint n = Interop.Read(fd, p, buffer.Length);
            errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            return (int)n;
        }
    }

    /// <summary>Writes everything to the destination (a terminal, file or pipe; blocking, on a thread-pool thread).
    /// A destination that fails (closed reader) drops the rest, as a program's own write would fail.</summary>
    private static unsafe void WriteAll(SafeHandle destination, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint w = Interop.Write(destination, p + done, data.Length - done);
                if (w > 0) { done += (int)w; continue; }
                int e = Marshal.GetLastPInvokeError();
                if (w < 0 && e == Interop.EINTR) continue;
                if (w < 0 && e == Interop.EAGAIN)
                {
                    bool added = false;
                    try
                    {
                        destination.DangerousAddRef(ref added);
                        var pf = new Interop.PollFd { Fd = (int)destination.DangerousGetHandle(), Events = 4 /* POLLOUT */ };
                        _ = Interop.Poll(&pf, 1, 1000);
                    }
                    finally { if (added) destination.DangerousRelease(); }
                    continue;
                }
                return;
            }
        }
    }

    public void Dispose()
    {
        foreach (var s in _streams) { s.Read.Dispose(); s.Write.Dispose(); }
    }

    /// <summary>The executor's own descriptor <paramref name="fd"/>, not owned.</summary>
    internal static SafeFileHandle Own(int fd) => new(fd, ownsHandle: false);
}
