using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sandbox2;
using Sandbox2.Client;

// Modes: threads | kill | diverge | no-tsync | mapped | simple | echo | buffer | speculation [FLAGS] (see SandboxMeHereTests).
// The tests' filter makes getppid() fail with errno 1234 (or kills the process).
string mode = args.Length > 0 ? args[0] : "threads";
using var client = new SandboxClient();
var comms = client.Comms;
try
{
    switch (mode)
    {
        case "threads":
            {
                // Threads that exist before SandboxMeHere: a plain Thread and a Task loop (plus the runtime's own).
                using var go = new ManualResetEventSlim();
                int plainResult = -1, loopResult = -1;
                var plain = new Thread(() => { go.Wait(); plainResult = Native.Probe(); }) { Name = "plain" };
                plain.Start();
                var request = new SemaphoreSlim(0);
                var loop = Task.Run(async () =>
                {
                    while (true)
                    {
                        await request.WaitAsync().ConfigureAwait(false);
                        loopResult = Native.Probe();
                        return;
                    }
                });
                await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Thread.Sleep(10))));

                client.SandboxMeHere();

                var (tasks, filtered) = Native.SeccompStatus();
                go.Set();
                plain.Join();
                request.Release();
                await loop;
                int runResult = await Task.Run(Native.Probe);
                int lateResult = -1;
                var late = new Thread(() => lateResult = Native.Probe());
                late.Start();
                late.Join();
                int mainResult = Native.Probe();
                comms.SendInt32(tasks);
                comms.SendInt32(filtered);
                int[] results = [mainResult, plainResult, loopResult, runResult, lateResult];
                comms.SendInt32(results.Length);
                foreach (int r in results) comms.SendInt32(r);
                return 0;
            }
        case "kill":
            {
                var loop = Task.Run(() => Thread.Sleep(10));
                await loop;
                client.SandboxMeHere();
                await Task.Run(Native.Probe); // killed here (SIGSYS), from a pool thread
                return 0;
            }
        case "diverge":
            {
                using var ready = new ManualResetEventSlim();
                using var done = new ManualResetEventSlim();
                var diverger = new Thread(() => { Native.InstallAllowAllOnThisThread(); ready.Set(); done.Wait(); }) { Name = "diverger", IsBackground = true };
                diverger.Start();
                ready.Wait();
                client.SandboxMeHere(); // throws
                return 0;
            }
        case "no-tsync":
            client.SandboxMeHere(); // throws when SANDBOX2_TEST_NO_TSYNC=1 (a .NET process always has several threads)
            return 0;
        case "speculation":
            {
                // Every thread's Speculation_Store_Bypass after SandboxMeHere. With FLAGS (hex), a filter installed first
                // lets the client's seccomp(SECCOMP_SET_MODE_FILTER) through only with exactly those flags (else EXDEV).
                if (args.Length > 1) Native.ExpectSeccompFlags(uint.Parse(args[1], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
                await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Thread.Sleep(10))));
                client.SandboxMeHere();
                comms.SendString(Native.SsbStatus());
                return 0;
            }
        case "echo":
            // Receiving over Comms after SandboxMeHere: AllowDotNetRuntime() must cover recvmsg.
            client.SandboxMeHere();
            comms.SendString(comms.ReceiveString().ToUpperInvariant());
            return 0;
        case "simple":
            client.SandboxMeHere();
            comms.SendInt32(Native.Probe());
            return 0;
        case "mapped":
            {
                client.SandboxMeHere();
                comms.SendBytes(ReadAll(client.GetMappedFd("input")));
                comms.SendBytes(ReadAll(new SafeFileHandle(100, ownsHandle: true)));
                comms.SendBool(client.HasMappedFd("input"));
                comms.SendString(Environment.CurrentDirectory);
                return 0;
            }
        case "buffer":
            {
                using var buffer = Sandbox2.SharedBuffer.CreateFromFd(comms.ReceiveFd());
                buffer.Data.Reverse();
                comms.SendInt64(buffer.Size);
                return 0;
            }
        default:
            Console.Error.WriteLine($"unknown mode {mode}");
            return 2;
    }
}
catch (SandboxMeHereException e)
{
    Console.Error.WriteLine($"sandboxee: {e.Message}");
    return 3;
}

static byte[] ReadAll(SafeFileHandle fd)
{
    using var stream = new FileStream(fd, FileAccess.Read, 1);
    var ms = new MemoryStream();
    stream.CopyTo(ms);
    return ms.ToArray();
}

static partial class Native
{
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall0(long number);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long Syscall3(long number, nuint a1, nuint a2, void* a3);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint a2, nuint a3, nuint a4, nuint a5);

    /// <summary>The probed syscall: getppid, or SANDBOX2_TEST_PROBE_NR.</summary>
    static readonly long ProbeNr = long.TryParse(Environment.GetEnvironmentVariable("SANDBOX2_TEST_PROBE_NR"), out long nr) ? nr : 110;

    /// <summary>The probe syscall: 0 if allowed, else the errno.</summary>
    public static int Probe() => Syscall0(ProbeNr) < 0 ? Marshal.GetLastPInvokeError() : 0;

    public static unsafe void InstallAllowAllOnThisThread()
    {
        ulong insn = 0x7fff0000_00000006; // BPF_RET|BPF_K, SECCOMP_RET_ALLOW
        var prog = stackalloc nuint[2];
        prog[0] = 1;
        prog[1] = (nuint)(&insn);
        if (Prctl(38, 1, 0, 0, 0) != 0 || Syscall3(317, 1, 0, prog) != 0)
            throw new InvalidOperationException($"diverger: seccomp failed: {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Installs, on every thread (TSYNC) and with SPEC_ALLOW (so that it mitigates nothing itself), a filter under
    /// which seccomp(SECCOMP_SET_MODE_FILTER, flags, ...) fails with EXDEV unless flags == <paramref name="want"/>.</summary>
    public static unsafe void ExpectSeccompFlags(uint want)
    {
        const ushort Ld = 0x20, Jeq = 0x15, Ret = 0x06; // BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
        const uint Allow = 0x7fff0000, ErrnoExdev = 0x00050000 | 18, ArchX8664 = 0xc000003e;
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
        static ulong I(ushort code, byte jt, byte jf, uint k) => code | ((ulong)jt << 16) | ((ulong)jf << 24) | ((ulong)k << 32);
        ulong* f = stackalloc ulong[]
        {
            I(Ld, 0, 0, 4), I(Jeq, 1, 0, ArchX8664), I(Ret, 0, 0, Allow),   // arch
            I(Ld, 0, 0, 0), I(Jeq, 1, 0, 317), I(Ret, 0, 0, Allow),         // nr == seccomp
            I(Ld, 0, 0, 16), I(Jeq, 1, 0, 1), I(Ret, 0, 0, Allow),          // args[0] == SECCOMP_SET_MODE_FILTER
            I(Ld, 0, 0, 24), I(Jeq, 0, 1, want), I(Ret, 0, 0, Allow),       // args[1] == want
            I(Ret, 0, 0, ErrnoExdev),
        };
        var prog = stackalloc nuint[2];
        prog[0] = 13;
        prog[1] = (nuint)f;
        if (Prctl(38, 1, 0, 0, 0) != 0 || Syscall3(317, 1, 1 | 4 /* TSYNC | SPEC_ALLOW */, prog) != 0)
            throw new InvalidOperationException($"the flag-checking filter: seccomp failed: {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The Speculation_Store_Bypass value of every thread, distinct values joined by '|'.</summary>
    public static string SsbStatus()
    {
        var values = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string status;
            try { status = File.ReadAllText(Path.Combine(dir, "status")); }
            catch (IOException) { continue; }
            foreach (var line in status.Split('\n'))
                if (line.StartsWith("Speculation_Store_Bypass:", StringComparison.Ordinal) && !values.Contains(line[25..].Trim()))
                    values.Add(line[25..].Trim());
        }
        return string.Join('|', values);
    }

    /// <summary>Tasks of this process and how many show "Seccomp: 2".</summary>
    public static (int Tasks, int Filtered) SeccompStatus()
    {
        int tasks = 0, filtered = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string status;
            try { status = File.ReadAllText(Path.Combine(dir, "status")); }
            catch (IOException) { continue; }
            tasks++;
            if (status.Split('\n').Any(l => l.StartsWith("Seccomp:", StringComparison.Ordinal) && l[8..].Trim() == "2")) filtered++;
        }
        return (tasks, filtered);
    }
}
