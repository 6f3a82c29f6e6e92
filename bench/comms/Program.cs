using System.Diagnostics;
using Sandbox2;

// Comms micro-benchmarks over a real AF_UNIX socketpair in one process (two threads).
const int RoundTrips = 20000;

Report("sync Int32 ping-pong", RoundTrips, () =>
{
    var (a, b) = Comms.CreatePair();
    using (a)
    using (b)
    {
        var echo = new Thread(() => { for (int i = 0; i < RoundTrips; i++) b.SendInt32(b.ReceiveInt32()); });
        echo.Start();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < RoundTrips; i++) { a.SendInt32(i); _ = a.ReceiveInt32(); }
        sw.Stop();
        echo.Join();
        return sw.Elapsed;
    }
});

Report("async Int32 ping-pong", RoundTrips, () =>
{
    var (a, b) = Comms.CreatePair();
    using (a)
    using (b)
    {
        var echo = Task.Run(async () => { for (int i = 0; i < RoundTrips; i++) await b.SendInt32Async(await b.ReceiveInt32Async()); });
        var sw = Stopwatch.StartNew();
        Task.Run(async () => { for (int i = 0; i < RoundTrips; i++) { await a.SendInt32Async(i); _ = await a.ReceiveInt32Async(); } }).Wait();
        sw.Stop();
        echo.Wait();
        return sw.Elapsed;
    }
});

Report("async Fd round trip (SCM_RIGHTS)", 5000, () =>
{
    var (a, b) = Comms.CreatePair();
    using (a)
    using (b)
    using (var buffer = Sandbox2.SharedBuffer.CreateWithSize(4096))
    {
        var echo = Task.Run(async () => { for (int i = 0; i < 5000; i++) { using var fd = await b.ReceiveFdAsync(); await b.SendFdAsync(fd); } });
        var sw = Stopwatch.StartNew();
        Task.Run(async () => { for (int i = 0; i < 5000; i++) { await a.SendFdAsync(buffer.Fd); (await a.ReceiveFdAsync()).Dispose(); } }).Wait();
        sw.Stop();
        echo.Wait();
        return sw.Elapsed;
    }
});

{
    const int Messages = 16, Size = 64 << 20;
    var (a, b) = Comms.CreatePair();
    using (a)
    using (b)
    {
        var data = new byte[Size];
        var reader = Task.Run(() => { for (int i = 0; i < Messages; i++) _ = b.ReceiveBytes(); });
        var sw = Stopwatch.StartNew();
        Task.Run(async () => { for (int i = 0; i < Messages; i++) await a.SendBytesAsync(data); }).Wait();
        reader.Wait();
        sw.Stop();
        Console.WriteLine($"{"Bytes 64 MiB async send -> sync recv",-40} {Messages * (double)Size / (1 << 20) / sw.Elapsed.TotalSeconds,10:F0} MiB/s");
    }
}

static void Report(string name, int n, Func<TimeSpan> run)
{
    run(); // warm-up
    var t = run();
    Console.WriteLine($"{name,-40} {t.TotalMicroseconds / n,10:F2} us per round trip ({n} round trips)");
}
