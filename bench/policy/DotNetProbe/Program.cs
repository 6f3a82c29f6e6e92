// DotNetProbe [none|dotnet] [kill|errno]: starts the runtime, installs the AllowDotNetRuntime policy on all threads
// (TSYNC) and then works: threads, tasks, GC (incl. forced and concurrent), exceptions, timers, async file IO,
// Console, a pipe, Process info, a Regex (lazy assembly load), JIT of new generic instantiations.
// Exit 0 = the runtime kept running under the policy; 159 = killed by the filter (strace -f shows the syscall).
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Sandbox2;

string mode = args.Length > 0 ? args[0] : "dotnet";
string onViolation = args.Length > 1 ? args[1] : "kill";

if (mode != "none")
{
    var builder = new PolicyBuilder().AllowDotNetRuntime();
    if (onViolation == "errno") builder.DefaultAction(SyscallAction.Errno(38));
    var program = builder.Build().Compile(new PolicyCompileOptions());
    Native.Install(program.ToBytes());
    Console.Error.WriteLine($"installed {program.Length} instructions with TSYNC");
}

var sw = Stopwatch.StartNew();
var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
{
    long sum = 0;
    for (int k = 0; k < 2000; k++)
    {
        var list = new List<byte[]>();
        for (int j = 0; j < 50; j++) list.Add(new byte[1024 * (j % 7 + 1)]);
        sum += list.Sum(b => b.Length);
        if (k % 500 == 0) await Task.Delay(1);
    }
    try { throw new InvalidOperationException("probe " + i); } catch (InvalidOperationException) { }
    return sum;
})).ToArray();
GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
var big = new byte[100_000_000];   // LOH
big[^1] = 1;
Task.WaitAll(tasks);
var t = new Thread(() => Thread.Sleep(10)) { IsBackground = false };
t.Start();
t.Join();
using var timer = new Timer(_ => { }, null, 0, 5);
await Task.Delay(30);
string tmp = Path.Combine(Path.GetTempPath(), $"probe-{Environment.ProcessId}.txt");
await File.WriteAllTextAsync(tmp, "hello " + string.Join(",", Enumerable.Range(0, 1000)));
string back = await File.ReadAllTextAsync(tmp);
File.Delete(tmp);
var m = Regex.Match(back, @"(\d+),(\d+)$");
var dict = new Dictionary<(int, string), decimal> { [(1, "a")] = 1.5m };
Console.WriteLine($"ok {m.Groups[2].Value} {dict.Count} {tasks.Sum(x => x.Result)} {Environment.ProcessorCount} {sw.ElapsedMilliseconds >= 0}");
GC.Collect();
GC.WaitForPendingFinalizers();
return 0;

static partial class Native
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint a2, nuint a3, nuint a4, nuint a5);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial long syscall(long nr, nint a1, nint a2, void* a3);

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct SockFprog { public ushort Len; public byte* Filter; }

    public static unsafe void Install(byte[] program)
    {
        if (prctl(38 /*PR_SET_NO_NEW_PRIVS*/, 1, 0, 0, 0) != 0) throw new InvalidOperationException($"prctl: {Marshal.GetLastPInvokeError()}");
        fixed (byte* p = program)
        {
            var prog = new SockFprog { Len = (ushort)(program.Length / 8), Filter = p };
            long r = syscall(317 /*seccomp*/, 1 /*SET_MODE_FILTER*/, 1 /*TSYNC*/, &prog);
            if (r != 0) throw new InvalidOperationException($"seccomp: {r} errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
