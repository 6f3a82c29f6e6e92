using Sandbox2.Bpf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy.Language;

/// <summary>The conformance table: policies in Kafel syntax covering every construct, each precedence rule, the 32-bit
/// argument rule, every action, includes and the always-on rules, with the expected decision for (arch, syscall, args).
/// Each row is checked three ways: the model (<see cref="Sandbox2.Policy.Evaluate(Syscall, PolicyCompileOptions)"/>),
/// the compiled program in the BPF interpreter, and (rows marked live) the real kernel with the program installed
/// (tests/testcases/seccomp_runner.c makes the syscall with the row's arguments).</summary>
public class ConformanceTests(ITestOutputHelper output)
{
    private const string Default = " DEFAULT ERRNO(99)";

    // precedence and expressions are tested on getppid with declared (hence 64-bit) argument names; the kernel ignores them
    private const string P = "ALLOW { getppid(a, b, c) { ";
    private const string Q = " } }" + Default;

    public static TheoryData<string, string, string, bool> Rows() => new()
    {
        // policy, "arch:syscall[,args]", expected word, live
        { "ALLOW { getppid }" + Default, "getppid", "ALLOW", true },
        { "ALLOW { getppid }" + Default, "getpid", "ERRNO(99)", true },
        { "ALLOW { getppid }", "getpid", "KILL", true },                                     // no DEFAULT: KILL
        // every action
        { Actions, "getppid", "ALLOW", true },
        { Actions, "getpid", "LOG", true },
        { Actions, "getuid", "KILL", true },
        { Actions, "getgid", "KILL_PROCESS", true },
        { Actions, "geteuid", "KILL_THREAD", true },
        { Actions, "getegid", "KILL", true },                                                 // DENY is KILL
        { Actions, "getpgrp", "ERRNO(5)", true },
        { Actions, "getsid,0", "TRAP(7)", true },
        { Actions, "gettid", "TRACE(3)", true },
        { Actions, "getpgid,0", "USER_NOTIF", true },
        { Actions, "sched_yield", "ERRNO(38)", true },                                        // DEFAULT ERRNO(38)
        { "ERRNO(0) { getppid } DEFAULT KILL_PROCESS", "getppid", "ERRNO(0)", true },
        { "DEFAULT KILL_PROCESS", "getppid", "KILL_PROCESS", true },
        // && binds tighter than ||
        { P + "a == 1 || b == 1 && c == 1" + Q, "getppid,1,0,0", "ALLOW", true },
        { P + "a == 1 || b == 1 && c == 1" + Q, "getppid,0,1,0", "ERRNO(99)", true },
        { P + "a == 1 || b == 1 && c == 1" + Q, "getppid,0,1,1", "ALLOW", true },
        // ',' is an or below || and &&
        { P + "a == 1 && b == 1, c == 1" + Q, "getppid,0,0,1", "ALLOW", true },
        { P + "a == 1 && b == 1, c == 1" + Q, "getppid,1,0,0", "ERRNO(99)", true },
        // ! applies to the primary right after it
        { P + "!a == 1 && b == 1" + Q, "getppid,0,1,0", "ALLOW", true },
        { P + "!a == 1 && b == 1" + Q, "getppid,1,1,0", "ERRNO(99)", true },
        { P + "!(a == 1 && b == 1)" + Q, "getppid,1,0,0", "ALLOW", false },
        // parentheses
        { P + "(a == 1 || b == 1) && c == 1" + Q, "getppid,1,0,0", "ERRNO(99)", true },
        { P + "(a == 1 || b == 1) && c == 1" + Q, "getppid,0,1,1", "ALLOW", false },
        // & binds tighter than |; both tighter than comparisons
        { P + "a | b & 2 == 3" + Q, "getppid,1,2", "ALLOW", true },
        { P + "a | b & 2 == 3" + Q, "getppid,1,3", "ALLOW", false },
        { P + "(a | b) & 2 == 3" + Q, "getppid,1,2", "ERRNO(99)", true },
        { P + "(a & 0xff00) == 0x1200" + Q, "getppid,0x12ab", "ALLOW", true },
        { P + "(a & 0xff00) == 0x1200" + Q, "getppid,0x13ab", "ERRNO(99)", false },
        { P + "(a | b) == 0x3" + Q, "getppid,1,2", "ALLOW", false },
        // argument against argument, 64-bit
        { P + "a == b" + Q, "getppid,5,5", "ALLOW", true },
        { P + "a == b" + Q, "getppid,5,0x100000005", "ERRNO(99)", true },
        { P + "a > b" + Q, "getppid,0x100000000,0xffffffff", "ALLOW", true },
        { P + "a > b" + Q, "getppid,1,2", "ERRNO(99)", false },
        { P + "a < b" + Q, "getppid,0xffffffff,0x100000000", "ALLOW", false },
        { P + "a >= b" + Q, "getppid,7,7", "ALLOW", false },
        { P + "a <= b" + Q, "getppid,8,7", "ERRNO(99)", false },
        { P + "a != b" + Q, "getppid,8,7", "ALLOW", false },
        { P + "a == a" + Q, "getppid,1", "ALLOW", false },
        { P + "(a | b) & c == b & c" + Q, "getppid,4,1,1", "ALLOW", true },                   // both sides computed
        { P + "(a | b) & c == b & c" + Q, "getppid,1,0,1", "ERRNO(99)", true },
        // 64-bit constants and comparisons
        { P + "a == 0x100000001" + Q, "getppid,0x100000001", "ALLOW", true },
        { P + "a == 0x100000001" + Q, "getppid,1", "ERRNO(99)", true },
        { P + "a >= 0x100000000" + Q, "getppid,0x100000000", "ALLOW", false },
        { P + "a <= 5" + Q, "getppid,0x100000005", "ERRNO(99)", false },
        { P + "a != 3" + Q, "getppid,3", "ERRNO(99)", false },
        { P + "a == -1" + Q, "getppid,0xffffffffffffffff", "ALLOW", false },
        // numbers: hex, octal, binary
        { P + "a == 010 && b == 0b101 && c == 0x1F" + Q, "getppid,8,5,31", "ALLOW", false },
        // the 32-bit rule: getpgid(pid) is pid_t: compared on its low 32 bits, unless the constant is wider
        { "ALLOW { getpgid { pid == 0 } }" + Default, "getpgid,0x100000000", "ALLOW", true },
        { "ALLOW { getpgid { pid == 0x100000000 } }" + Default, "getpgid,0x100000000", "ALLOW", true },
        { "ALLOW { getpgid { pid == 0x100000000 } }" + Default, "getpgid,0", "ERRNO(99)", true },
        { "ALLOW { getpgid(p) { p == 0 } }" + Default, "getpgid,0x100000000", "ALLOW", true },  // renamed: still the kernel's width
        { "ALLOW { getppid(a) { a == 0 } }" + Default, "getppid,0x100000000", "ERRNO(99)", true }, // no kernel argument: 64-bit
        { "ALLOW { fcntl { cmd == F_GETFD } }" + Default, "fcntl,0,0xffffffff00000001", "ALLOW", false },
        { "ALLOW { mmap { prot == PROT_READ | PROT_WRITE } }" + Default, "mmap,0,0,0x100000003", "ERRNO(99)", false },  // prot is unsigned long
        { "ALLOW { mmap { prot == PROT_READ | PROT_WRITE } }" + Default, "mmap,0,0,3", "ALLOW", false },
        // constants: #define, kernel constants, errno names, a #define'd syscall number
        { "#define MYFD 3\nALLOW { close { fd == MYFD } }" + Default, "close,3", "ALLOW", false },
        { "ALLOW { openat { (flags & O_CLOEXEC) != 0 && dfd == AT_FDCWD } }" + Default, "openat,0xffffff9c,0,0x80000", "ALLOW", false },
        { "ERRNO(EPERM) { getppid } DEFAULT KILL", "getppid", "ERRNO(1)", true },
        { "#define MYSYS 110\nALLOW { MYSYS }" + Default, "getppid", "ALLOW", true },
        { "ALLOW { SYSCALL[110] }" + Default, "getppid", "ALLOW", true },
        { "ALLOW { SYSCALL[1000] }" + Default, "1000", "ALLOW", false },
        // POLICY and USE (each policy once), first match wins
        { "POLICY a { ALLOW { getppid } } POLICY b { USE a, ERRNO(3) { getpid } } USE b DEFAULT KILL", "getpid", "ERRNO(3)", true },
        { "POLICY a { ALLOW { getppid } } POLICY b { USE a, ERRNO(3) { getpid } } USE b DEFAULT KILL", "getppid", "ALLOW", false },
        { "POLICY a { ERRNO(4) { getppid } } USE a, ALLOW { getppid } USE a" + Default, "getppid", "ERRNO(4)", false },
        { "ERRNO(1) { getppid } ALLOW { getppid }" + Default, "getppid", "ERRNO(1)", true },
        { "ERRNO(1) { getppid(a) { a == 1 } } ALLOW { getppid }" + Default, "getppid,1", "ERRNO(1)", false },
        { "ERRNO(1) { getppid(a) { a == 1 } } ALLOW { getppid }" + Default, "getppid,2", "ALLOW", false },
        { "ERRNO(1) { getppid(a) { a == 1 } }, ALLOW { getppid }" + Default, "getppid,2", "ALLOW", false },  // top-level comma
        { "ERRNO(1) { getppid {} }" + Default, "getppid", "ERRNO(1)", false },                                // empty condition
        // ON guards
        { "ALLOW { getppid ON x86_64, getpid ON aarch64 }" + Default, "getppid", "ALLOW", true },
        { "ALLOW { getppid ON x86_64, getpid ON aarch64 }" + Default, "getpid", "ERRNO(99)", true },
        { "ALLOW { getpid ON { arm, AMD64 } }" + Default, "getpid", "ALLOW", false },
        // comments
        { "/* block\n comment */ ALLOW { getppid } // line\n" + Default, "getppid", "ALLOW", false },
        // aliases: stat is the kernel's newstat
        { "ALLOW { stat }" + Default, "newstat", "ALLOW", false },
        // foreign ABIs are violations whatever the policy says; the always-on rules hold
        { "DEFAULT ALLOW", "x86-32:20", "KILL", false },
        { "DEFAULT ALLOW", "x32:39", "KILL", true },
        { "DEFAULT ALLOW", "ptrace", "KILL", true },
        { "ALLOW { ptrace } DEFAULT ALLOW", "ptrace", "KILL", true },
        { "ERRNO(1) { ptrace } DEFAULT ALLOW", "ptrace", "ERRNO(1)", true },
        { "DEFAULT ALLOW", "clone,0x10000000", "KILL", false },
        { "DEFAULT ALLOW", "clone3", "ERRNO(38)", false },
        { "DEFAULT ALLOW", "unshare,0x10000000", "KILL", true },
        // groups and presets
        { "USE @basic-io" + Default, "read", "ALLOW", false },
        { "ERRNO(9) { @basic-io }" + Default, "writev", "ERRNO(9)", false },
        { "USE allow_exit" + Default, "exit_group", "ALLOW", false },
        { "USE @default" + Default, "read", "ALLOW", false },
    };

    private const string Actions = "ALLOW { getppid } LOG { getpid } KILL { getuid } KILL_PROCESS { getgid } KILL_THREAD { geteuid } " +
        "DENY { getegid } ERRNO(5) { getpgrp } TRAP(7) { getsid } TRACE(3) { gettid } USER_NOTIF { getpgid } DEFAULT ERRNO(38)";

    private static readonly PolicyCompileOptions NoMonitor = new(MonitorAttached: false);

    internal static Syscall ParseCall(string spec)
    {
        var arch = SyscallArch.X86_64;
        if (spec.StartsWith("x86-32:", StringComparison.Ordinal)) { arch = SyscallArch.X86_32; spec = spec[7..]; }
        else if (spec.StartsWith("x32:", StringComparison.Ordinal)) { arch = SyscallArch.X32; spec = spec[4..]; }
        var parts = spec.Split(',');
        int nr = int.TryParse(parts[0], out int n) ? n : SyscallTable.Find(parts[0])?.Number ?? SyscallArgs.TryGetNumber(parts[0], out int k) switch { true => k, _ => throw new ArgumentException(parts[0]) };
        var args = parts.Skip(1).Select(a => a.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToUInt64(a[2..], 16) : ulong.Parse(a, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new Syscall(arch, nr, args);
    }

    /// <summary>The filter return value a word stands for (no monitor: every violation is KILL_PROCESS).</summary>
    internal static uint Ret(string word) => word switch
    {
        "ALLOW" => SeccompReturn.Allow,
        "LOG" => SeccompReturn.Log,
        "KILL" or "KILL_PROCESS" or "KILL_THREAD" => SeccompReturn.KillProcess,
        "USER_NOTIF" => SeccompReturn.UserNotif,
        _ when word.StartsWith("ERRNO(", StringComparison.Ordinal) => SeccompReturn.Errno | uint.Parse(word[6..^1], System.Globalization.CultureInfo.InvariantCulture),
        _ when word.StartsWith("TRAP(", StringComparison.Ordinal) => SeccompReturn.Trap | uint.Parse(word[5..^1], System.Globalization.CultureInfo.InvariantCulture),
        _ when word.StartsWith("TRACE(", StringComparison.Ordinal) => SeccompReturn.UserNotif,   // the monitor is the tracer
        _ => throw new ArgumentException(word),
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void ModelInterpreterAndKernelAgree(string policyText, string call, string expected, bool live)
    {
        var doc = PolicyLanguage.Parse(policyText);
        var policy = doc.ToBuilder().Build();
        var syscall = ParseCall(call);
        Assert.Equal(expected, policy.Evaluate(syscall, NoMonitor).ToPolicyWord());
        var program = policy.Compile(NoMonitor);
        var data = syscall.ToSeccompData();
        uint ret = program.Run(data);
        Assert.True(Ret(expected) == ret, $"interpreter: {SeccompReturn.Describe(ret)}, expected {expected}");
        // the same program compiled for a monitor answers the same, except that violations go to the monitor
        uint monitored = policy.Compile(new PolicyCompileOptions(MonitorAttached: true)).Run(data);
        Assert.Equal(expected.StartsWith("KILL", StringComparison.Ordinal) ? SeccompReturn.UserNotif : ret, monitored);
        if (!live) return;
        var kernel = SeccompRunner.Run(program, data.Nr, [.. syscall.Args]);
        uint kind = ret & SeccompReturn.ActionFullMask;
        // the unfiltered call only where the filter lets it run (an unfiltered ptrace or unshare is not made)
        var unfiltered = kind is SeccompReturn.Allow or SeccompReturn.Log ? SeccompRunner.Run(null, data.Nr, [.. syscall.Args]) : default;
        LiveOutcome want = kind switch
        {
            SeccompReturn.Log => unfiltered,
            SeccompReturn.Trap => new LiveOutcome(false, 0, 0, LiveOutcome.Sigsys),   // SIGSYS with no handler
            _ => LiveOutcome.Expected(ret, unfiltered),
        };
        output.WriteLine($"{call}: {expected}; kernel {kernel}");
        Assert.True(want.Matches(kernel), $"{call}: expected {want} from the kernel, got {kernel}");
    }

    [Fact]
    public void TableCoversEveryActionWord()
    {
        var words = Rows().Select(r => (string)r[2]).Select(w => w.Split('(')[0]).ToHashSet();
        foreach (var w in new[] { "ALLOW", "LOG", "KILL", "KILL_PROCESS", "KILL_THREAD", "ERRNO", "TRAP", "TRACE", "USER_NOTIF" })
            Assert.Contains(w, words);
    }
}
