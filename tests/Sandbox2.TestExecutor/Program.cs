using System.Diagnostics;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Sandbox2;

// Sandbox2.TestExecutor terminate-process-group SANDBOXEE: see TerminateProcessGroup.cs.
//
// Sandbox2.TestExecutor monitor-attack ATTACKER TARGET HEARTBEAT
//   Runs two sandboxes from this one process (one shared monitor): HEARTBEAT (mon_notifychild "loop"), whose every
//   getppid is a trace rule answered by a Notify hook on the monitor, and, once that is being served, ATTACKER
//   (mon_mapattack TARGET) with stack traces on. Prints key=value lines: the attacker's status, the time from its
//   "planted" line to its result, its stack trace, how many of the heartbeat's syscalls the monitor answered while the
//   attacker's violation was handled, and the heartbeat's own status.
if (args is ["terminate-process-group", var sandboxee]) return await TerminateProcessGroup.RunAsync(sandboxee);
if (args.Length != 4 || args[0] != "monitor-attack")
{
    Console.Error.WriteLine("usage: Sandbox2.TestExecutor monitor-attack ATTACKER TARGET HEARTBEAT");
    return 2;
}
var timeout = TimeSpan.FromSeconds(60);
var hooks = new Heartbeat();
var heartbeatPolicy = new PolicyBuilder().AllowStaticStartup().AllowWrite().AllowExit().AllowTime().AllowSleep()
    .AllowSystemMalloc().AllowMmapWithoutExec().AllowMprotectWithoutExec().AllowRestartableSequences()
    .AllowSyscalls("brk", "set_tid_address", "set_robust_list", "arch_prctl", "rt_sigprocmask", "prctl", "exit_group", "write", "clock_gettime")
    .TraceSyscall("getppid").CollectStacktracesOnViolation(false).Build();
await using var heartbeat = new Sandbox(new Executor(args[3], ["loop", "=", "100000000"]) { Limits = new Limits { WallTime = timeout } }, heartbeatPolicy, hooks);
var heartbeatRun = heartbeat.RunAsync();
await hooks.Served.Task.WaitAsync(timeout);

await Sandbox2.Monitor.WarmUpStackTraces().WaitAsync(timeout); // the tracer's code compiled: the 1 s measures the monitor, not the JIT
var (read, write) = Pipe();
var attackerPolicy = BuiltinPolicies.CreateDefault().AllowSymlink().AllowUnlink().AllowMmap().AddTmpfs("/tmp", 1 << 20).Build();
await using var attacker = new Sandbox(new Executor(args[1], [args[2]]) { Stdout = write, Limits = new Limits { WallTime = timeout } }, attackerPolicy);
var attackerRun = attacker.RunAsync();
using var reader = new StreamReader(new FileStream(read, FileAccess.Read));
string? line = await reader.ReadLineAsync().WaitAsync(timeout);
var clock = Stopwatch.StartNew();
long servedAtPlant = hooks.Count;
var result = await attackerRun.WaitAsync(timeout);
double reportedMs = clock.Elapsed.TotalMilliseconds;
long servedDuring = hooks.Count - servedAtPlant;
// The monitor still serves the heartbeat after the attack: wait for more answers, then stop it.
long after = hooks.Count;
var more = Stopwatch.StartNew();
while (hooks.Count < after + 100 && more.Elapsed < timeout) await Task.Delay(5);
long servedAfter = hooks.Count - after;
heartbeat.Kill();
var heartbeatResult = await heartbeatRun.WaitAsync(timeout);
write.Dispose();

Console.WriteLine($"attacker_first_line={line}");
Console.WriteLine($"attacker_status={result.Status}");
Console.WriteLine($"attacker_syscall={result.Violation?.SyscallName}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"attacker_reported_ms={reportedMs:0.0}"));
foreach (var frame in result.StackTrace ?? []) Console.WriteLine($"attacker_stack={frame}");
Console.WriteLine($"heartbeat_served_during={servedDuring}");
Console.WriteLine($"heartbeat_served_after={servedAfter}");
Console.WriteLine($"heartbeat_status={heartbeatResult.Status}");
return 0;

static unsafe (SafeFileHandle Read, SafeFileHandle Write) Pipe()
{
    int* fds = stackalloc int[2];
    if (Pipe2(fds, 0x80000 /* O_CLOEXEC */) != 0) throw new IOException("pipe2 failed");
    return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
}

[System.Runtime.InteropServices.DllImport("libc", EntryPoint = "pipe2", SetLastError = true)]
static extern unsafe int Pipe2(int* fds, int flags);

sealed class Heartbeat : Notify
{
    private long _count;
    public TaskCompletionSource Served { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public long Count => Interlocked.Read(ref _count);
    public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _count) == 10) Served.TrySetResult();
        return ValueTask.FromResult(TraceAction.Allow);
    }
}
