// Monitor benchmarks (issue 4). Standalone monitored children (tests/testcases/mon_notifychild-static under a
// notifying seccomp filter, no namespaces) unless stated otherwise.
//   concurrency N : N concurrent sleeping monitored processes (5 s sleep, then one traced getppid answered
//                   "allow" by a Notify handler): time to start all, time to finish all, threads, RSS.
//   sandboxes N   : the same with N real sandboxes (forkserver, namespaces, init as pid 1, compiled policy with a
//                   trace rule for getppid, monitor attached).
//   sandbox-latency N : N real sandboxes that each call ptrace: violation latency as for "latency".
//   trace N       : one process makes N traced getppid calls, each answered "allow" by a C# Notify handler on the
//                   thread pool: the cost of a user-space syscall handler (compare perf-anchors Task 5).
//   latency N     : N violations (ptrace); notification received -> violation reported (result available),
//                   and -> process reaped.
//   api N [MS] [kill] : N sandboxes held at once through the public API (Sandbox.RunAsync; each sleeps MS ms,
//                   default 45000, then one traced getppid): how many started, failed (and why), threads, executor
//                   fds and RSS per running sandbox; "kill" ends them all right after the measurement.
using System.Diagnostics;
using Sandbox2;
using Sandbox2.Tests.Monitoring;

string what = args.Length > 0 ? args[0] : "concurrency";
int n = args.Length > 1 ? int.Parse(args[1]) : 1000;
switch (what)
{
    case "concurrency": await Concurrency(n); break;
    case "latency": await Latency(n); break;
    case "sandboxes": await Sandboxes(n); break;
    case "trace": await TraceRoundTrip(n); break;
    case "sandbox-latency": await Sandboxes(n, violate: true); break;
    case "api": await ApiSandboxes(n, args.Length > 2 ? int.Parse(args[2]) : 45000, args.Length > 3 && args[3] == "kill"); break;
    default: Console.Error.WriteLine("usage: [concurrency N | sandboxes N | latency N]"); return 2;
}
return 0;

static (int Threads, long RssKb, long HwmKb) Self()
{
    int threads = 0; long rss = 0, hwm = 0;
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("Threads:")) threads = int.Parse(line[8..].Trim());
        else if (line.StartsWith("VmRSS:")) rss = long.Parse(line[6..].Trim().Split(' ')[0]);
        else if (line.StartsWith("VmHWM:")) hwm = long.Parse(line[6..].Trim().Split(' ')[0]);
    }
    return (threads, rss, hwm);
}

static async Task Concurrency(int n)
{
    var monitor = Sandbox2.Monitor.Shared;
    // Warm up: one monitored process end to end (JIT, thread pool).
    using (var w = NotifyChild.Start("sleep", "110", "1", captureOutput: false))
    using (monitor.Register(w.Listener, new TestTarget(w, _ => true, new AllowAll())))
        await w.WaitAsync(monitor);
    var before = Self();
    Console.WriteLine($"before: threads={before.Threads} rss={before.RssKb} kB");
    var notify = new AllowAll();
    var children = new List<NotifyChild>(n);
    var regs = new List<IDisposable>(n);
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < n; i++)
    {
        var c = NotifyChild.Start("sleep", "110", "5000", captureOutput: false);
        children.Add(c);
        regs.Add(monitor.Register(c.Listener, new TestTarget(c, _ => true, notify)));
    }
    var started = sw.Elapsed;
    var peak = Self();
    int registered = monitor.RegisteredCount;
    var waits = children.Select(c => c.WaitAsync(monitor)).ToArray();
    int maxThreads = peak.Threads;
    while (!Task.WhenAll(waits).IsCompleted)
    {
        await Task.WhenAny(Task.WhenAll(waits), Task.Delay(100));
        maxThreads = Math.Max(maxThreads, Self().Threads);
    }
    var exits = await Task.WhenAll(waits);
    var finished = sw.Elapsed;
    var after = Self();
    int ok = exits.Count(e => e.ExitCode == 0);
    Console.WriteLine($"N={n} (standalone monitored processes, static, sleep 5000 ms + 1 traced getppid each)");
    Console.WriteLine($"start all (spawn + receive listener + register): {started.TotalMilliseconds:F0} ms ({started.TotalMilliseconds / n:F2} ms each)");
    Console.WriteLine($"finish all (from first spawn): {finished.TotalMilliseconds:F0} ms; exited 0: {ok}/{n}; traced getppid answered: {notify.Count}");
    Console.WriteLine($"registered at peak: {registered}; monitor loop threads: 1");
    Console.WriteLine($"threads: before={before.Threads} at-peak={peak.Threads} max-during={maxThreads} after={after.Threads}");
    Console.WriteLine($"RSS: before={before.RssKb} kB at-peak={peak.RssKb} kB after={after.RssKb} kB HWM={after.HwmKb} kB");
    foreach (var r in regs) r.Dispose();
    foreach (var c in children) c.Dispose();
}

static async Task Latency(int n)
{
    var monitor = Sandbox2.Monitor.Shared;
    var report = new List<double>(n);
    var reaped = new List<double>(n);
    const int Batch = 16;
    for (int done = 0; done < n + Batch; done += Batch) // the first batch is warm-up
    {
        var batch = new List<(NotifyChild C, TestTarget T, IDisposable R)>();
        for (int i = 0; i < Batch; i++)
        {
            var c = NotifyChild.Start("ptrace", "101", captureOutput: false);
            var t = new TestTarget(c);
            batch.Add((c, t, monitor.Register(c.Listener, t)));
        }
        foreach (var (c, t, r) in batch)
        {
            var v = await t.Violation;
            await c.WaitAsync(monitor);
            long end = Stopwatch.GetTimestamp();
            if (done >= Batch && report.Count < n)
            {
                report.Add(Stopwatch.GetElapsedTime(v.ReceivedTimestamp, t.ReportedTimestamp).TotalMicroseconds);
                reaped.Add(Stopwatch.GetElapsedTime(v.ReceivedTimestamp, end).TotalMicroseconds);
            }
            r.Dispose();
            c.Dispose();
        }
    }
    report.Sort(); reaped.Sort();
    static double P(List<double> l, double q) => l[Math.Min(l.Count - 1, (int)(q * l.Count))];
    Console.WriteLine($"violations: {report.Count} (standalone monitored processes, ptrace -> violation -> kill)");
    Console.WriteLine($"notification received -> violation reported: median {P(report, 0.5):F1} us, p90 {P(report, 0.9):F1} us, p99 {P(report, 0.99):F1} us, max {report[^1]:F1} us");
    Console.WriteLine($"notification received -> process reaped (kill + exit + pidfd wake-up): median {P(reaped, 0.5):F1} us, p90 {P(reaped, 0.9):F1} us");
}

/// <summary>What the static mon_notifychild needs to start and sleep, with getppid traced (answered by a Notify).</summary>
static Policy SleeperPolicy() => new PolicyBuilder()
    .AllowSyscalls("brk", "set_tid_address", "set_robust_list", "rseq", "arch_prctl", "rt_sigprocmask", "prctl",
        "mmap", "munmap", "mprotect", "readlink", "readlinkat", "uname", "prlimit64", "getrandom", "futex",
        "clock_nanosleep", "nanosleep", "write", "exit", "exit_group", "ioctl", "newfstatat", "fstat")
    .TraceSyscall("getppid")
    .Build();

static async Task Sandboxes(int n, bool violate = false)
{
    var policy = SleeperPolicy();
    var options = new PolicyCompileOptions(MonitorAttached: true, ExecNonce: (ulong)Random.Shared.NextInt64());
    byte[] bpf = policy.Compile(options).ToBytes();
    string program = NotifyChild.TestcasePath("mon_notifychild-static");
    var notify = new AllowAll();
    SandboxPlan Plan(int ms) => new()
    {
        OutsideUid = 65534, OutsideGid = 65534,
        Argv = violate ? ["mon_notifychild", "ptrace", "="] : ["mon_notifychild", "sleep", "=", ms.ToString()],
        ProgramFd = Interop.OpenPath(program),
        Bpf = bpf, ExecNonce = options.ExecNonce!.Value, NotifyListener = true,
    };
    async Task<(SpawnedSandbox, MonitoredSandbox, Task<IDisposable?>)> Start(int ms)
    {
        var plan = Plan(ms);
        try
        {
            var spawned = await ForkServer.Global.SpawnAsync(plan);
            var target = new MonitoredSandbox(policy, options, notify, false, spawned.Kill);
            return (spawned, target, target.AttachAsync(spawned));
        }
        finally { plan.ProgramFd.Dispose(); }
    }
    if (violate)
    {
        var lat = new List<double>(n);
        for (int i = 0; i < n + 16; i++)
        {
            var (s, t, a) = await Start(0);
            using var att = await a;
            await t.ViolationReported;
            await s.Completion;
            s.Dispose();
            if (i >= 16) lat.Add(t.ReportedLatencyMicroseconds);
        }
        lat.Sort();
        Console.WriteLine($"violations: {lat.Count} real sandboxes (ptrace -> violation -> kill of the whole sandbox)");
        Console.WriteLine($"notification received -> violation reported: median {lat[lat.Count / 2]:F1} us, p90 {lat[(int)(lat.Count * 0.9)]:F1} us, p99 {lat[(int)(lat.Count * 0.99)]:F1} us, max {lat[^1]:F1} us");
        return;
    }
    // Warm-up: forkserver start, JIT.
    {
        var (s, _, a) = await Start(1);
        using var att = await a;
        var r = await s.Completion;
        s.Dispose();
        if (r.ExitCode != 0) { Console.WriteLine($"warm-up sandbox failed: {r}"); return; }
    }
    var before = Self();
    Console.WriteLine($"before: threads={before.Threads} rss={before.RssKb} kB");
    var all = new List<(SpawnedSandbox S, MonitoredSandbox T, Task<IDisposable?> A)>(n);
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < n; i++) all.Add(await Start(12000));
    var attachments = await Task.WhenAll(all.Select(x => x.A));
    var started = sw.Elapsed;
    var peak = Self();
    int registered = Sandbox2.Monitor.Shared.RegisteredCount;
    var completions = Task.WhenAll(all.Select(x => x.S.Completion));
    int maxThreads = peak.Threads;
    while (!completions.IsCompleted)
    {
        await Task.WhenAny(completions, Task.Delay(100));
        maxThreads = Math.Max(maxThreads, Self().Threads);
    }
    var reports = await completions;
    var finished = sw.Elapsed;
    var after = Self();
    int ok = reports.Count(r => r.ExitCode == 0);
    Console.WriteLine($"N={n} real sandboxes (forkserver, all namespaces, static mon_notifychild: sleep 12000 ms + 1 traced getppid)");
    Console.WriteLine($"start all (spawn + listener received + registered): {started.TotalMilliseconds:F0} ms ({started.TotalMilliseconds / n:F2} ms each)");
    Console.WriteLine($"finish all (from first spawn): {finished.TotalMilliseconds:F0} ms; exited 0: {ok}/{n}; traced getppid answered: {notify.Count}; violations: {all.Count(x => x.T.Violation is not null)}");
    foreach (var r in reports.Where(r => r.ExitCode != 0).Take(3)) Console.WriteLine($"  not ok: {r}");
    Console.WriteLine($"registered listeners at peak: {registered}; monitor loop threads: 1");
    Console.WriteLine($"threads: before={before.Threads} at-peak={peak.Threads} max-during={maxThreads} after={after.Threads}");
    Console.WriteLine($"RSS: before={before.RssKb} kB at-peak={peak.RssKb} kB after={after.RssKb} kB HWM={after.HwmKb} kB");
    foreach (var a in attachments) a?.Dispose();
    foreach (var x in all) x.S.Dispose();
}

static async Task ApiSandboxes(int n, int sleepMs, bool killAfterStart)
{
    var policy = SleeperPolicy();
    string program = NotifyChild.TestcasePath("mon_notifychild-static");
    var notify = new AllowAll();
    Sandbox Make(int ms) => new(new Executor(program, ["sleep", "=", ms.ToString()]) { Limits = new Limits { WallTime = TimeSpan.FromMinutes(60) } }, policy, notify);
    await using (var warm = Make(1)) Console.WriteLine($"warm-up: {await warm.RunAsync()}");
    static int Fds() => Directory.GetFiles("/proc/self/fd").Length;
    var before = Self();
    int fdsBefore = Fds();
    Console.WriteLine($"before: threads={before.Threads} rss={before.RssKb} kB fds={fdsBefore} RLIMIT_NOFILE={File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files"))}");
    var sandboxes = new List<Sandbox>(n);
    var runs = new List<Task<SandboxResult>>(n);
    var failures = new List<SandboxResult>();
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < n; i++)
    {
        var s = Make(sleepMs);
        var run = s.RunAsync();
        // Wait until it runs under its policy (or failed) before the next: "held at once" means all really started.
        if (!await s.Ready) { failures.Add(await run); await s.DisposeAsync(); continue; }
        sandboxes.Add(s);
        runs.Add(run);
    }
    var started = sw.Elapsed;
    var peak = Self();
    int fdsPeak = Fds();
    Console.WriteLine($"N={n} requested, {runs.Count} running at once, {failures.Count} failed to start; started in {started.TotalSeconds:F1} s");
    foreach (var g in failures.GroupBy(f => $"{f.Status} {f.ReasonCode?.ToContractName()}: {f.Reason}").Take(5)) Console.WriteLine($"  {g.Count()} x {g.Key}");
    if (runs.Count > 0)
        Console.WriteLine($"executor per running sandbox: fds {(fdsPeak - fdsBefore) / (double)runs.Count:F2}, RSS {(peak.RssKb - before.RssKb) / (double)runs.Count:F1} kB; threads {before.Threads} -> {peak.Threads}");
    if (killAfterStart) foreach (var s in sandboxes) s.Kill();
    var results = await Task.WhenAll(runs);
    var after = Self();
    Console.WriteLine($"all ended after {sw.Elapsed.TotalSeconds:F1} s: {results.Count(r => r.Status == SandboxStatus.Ok && r.ExitCode == 0)}/{results.Length} OK exit 0, {results.Count(r => r.Status == SandboxStatus.ExternalKill)} killed; traced getppid answered: {notify.Count}");
    foreach (var g in results.Where(r => r.Status != SandboxStatus.Ok).GroupBy(r => r.ToString()).Take(5)) Console.WriteLine($"  {g.Count()} x {g.Key}");
    Console.WriteLine($"threads after={after.Threads}; RSS after={after.RssKb} kB HWM={after.HwmKb} kB");
    foreach (var s in sandboxes) await s.DisposeAsync();
}

static async Task TraceRoundTrip(int n)
{
    foreach (int round in new[] { 0, 1, 2, 3 })
    {
        var notify = new AllowAll();
        using var c = NotifyChild.Start("loop", "110", n.ToString());
        using var reg = Sandbox2.Monitor.Shared.Register(c.Listener, new TestTarget(c, _ => true, notify));
        var exit = await c.WaitAsync(Sandbox2.Monitor.Shared);
        string output = await c.Output;
        if (round > 0) Console.WriteLine($"round {round}: {n} traced getppid -> allow (CONTINUE): {output.Trim()} (handler calls {notify.Count}, exit {exit.ExitCode})");
    }
}

sealed class AllowAll : Notify
{
    public int Count;
    public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Count);
        return ValueTask.FromResult(TraceAction.Allow);
    }
}
