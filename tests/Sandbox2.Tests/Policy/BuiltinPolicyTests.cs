using Sandbox2.Bpf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy;

/// <summary>The built-in default policy on real tools: installed as the sandbox installs it (filter, then the tagged
/// execveat), the tools must give the same output as without a filter; exec after start, networking, ptrace and
/// namespace changes must not be allowed.</summary>
public sealed class BuiltinPolicyTests : IDisposable
{
    private const ulong Nonce = 0x9e3779b97f4a7c15;
    private static readonly Lazy<BpfProgram> Filter = new(() =>
        BuiltinPolicies.CreateDefault().Build().Compile(new PolicyCompileOptions(MonitorAttached: false, ExecNonce: Nonce)));
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox2-policy-").FullName;
    private readonly ITestOutputHelper _output;

    public BuiltinPolicyTests(ITestOutputHelper output)
    {
        _output = output;
        File.WriteAllLines(Path.Combine(_dir, "in.txt"), Enumerable.Range(0, 5000).Select(i => ((i * 7919) % 5000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> Tools => new()
    {
        { "/usr/bin/ls", "-la /usr" },
        { "/usr/bin/cat", "in.txt" },
        { "/usr/bin/sort", "-n in.txt" },
        { "/usr/bin/grep", "-c 7 in.txt" },
        { "/usr/bin/sed", "-n s/9/x/p in.txt" },
        { "/usr/bin/gzip", "-c -9 in.txt" },
        { "/usr/bin/wc", "in.txt" },
        { "/usr/bin/head", "-n 3 in.txt" },
        { "/usr/bin/echo", "hello" },
        { "/usr/bin/true", "" },
        { "/usr/bin/printf", "%s-%d x 5" },
        { "/usr/bin/md5sum", "in.txt" },
        { "/usr/bin/tail", "-n 2 in.txt" },
    };

    [Theory]
    [MemberData(nameof(Tools))]
    public void ToolRunsUnderTheDefaultPolicy(string program, string args)
    {
        var argv = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var bare = SeccompRunner.Exec(null, 0, _dir, program, argv);
        var filtered = SeccompRunner.Exec(Filter.Value, Nonce, _dir, program, argv);
        Assert.Equal(0, bare.Status);
        Assert.Equal((0, bare.Stdout), (filtered.Status, filtered.Stdout));
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("hello-static")]
    public void StaticAndDynamicCProgramsRun(string testcase)
    {
        var r = SeccompRunner.Exec(Filter.Value, Nonce, _dir, SeccompRunner.Testcase(testcase));
        Assert.Equal(0, r.Status);
    }

    [Fact]
    public void WritingToolsRun()
    {
        Assert.Equal(0, SeccompRunner.Exec(Filter.Value, Nonce, _dir, "/usr/bin/gzip", "-k", "in.txt").Status);
        Assert.Equal(0, SeccompRunner.Exec(Filter.Value, Nonce, _dir, "/usr/bin/cp", "in.txt", "copy.txt").Status);
        Assert.Equal(0, SeccompRunner.Exec(Filter.Value, Nonce, _dir, "/usr/bin/sed", "-i", "s/1/one/", "copy.txt").Status);
        Assert.Equal(0, SeccompRunner.Exec(Filter.Value, Nonce, _dir, "/usr/bin/mkdir", "-p", "a/b").Status);
        Assert.Equal(0, SeccompRunner.Exec(Filter.Value, Nonce, _dir, "/usr/bin/rm", "-r", "a", "copy.txt").Status);
        Assert.True(File.Exists(Path.Combine(_dir, "in.txt.gz")));
        Assert.False(File.Exists(Path.Combine(_dir, "copy.txt")));
    }

    [Fact]
    public void ExecAfterStartIsAViolation()
    {
        // the program itself was exec'd with the nonce; it cannot exec anything else
        var r = SeccompRunner.Exec(Filter.Value, Nonce, _dir, "/bin/sh", "-c", "exec /usr/bin/true");
        _output.WriteLine($"sh -c 'exec true' under the default policy: status {r.Status}");
        Assert.Equal(128 + 31, r.Status);
        // a wrong nonce cannot exec at all
        Assert.Equal(128 + 31, SeccompRunner.Exec(Filter.Value, Nonce ^ 1, _dir, "/usr/bin/true").Status);
    }

    [Theory]
    [InlineData("execve")]
    [InlineData("execveat")]
    [InlineData("connect")]
    [InlineData("bind")]
    [InlineData("sendto")]
    [InlineData("ptrace")]
    [InlineData("bpf")]
    [InlineData("mount")]
    [InlineData("umount2")]
    [InlineData("pivot_root")]
    [InlineData("setns")]
    [InlineData("chroot")]
    [InlineData("unshare")]
    [InlineData("process_vm_readv")]
    [InlineData("init_module")]
    [InlineData("kexec_load")]
    [InlineData("reboot")]
    [InlineData("setuid")]
    public void DangerousSyscallsAreViolations(string name)
    {
        var policy = BuiltinPolicies.CreateDefault().Build();
        Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber(name), [0x10000000, 0, 0, 0, 0, 0])));
    }

    [Fact]
    public void NetworkingFailsPolitelyAndNamespaceClonesAreViolations()
    {
        var policy = BuiltinPolicies.CreateDefault().Build();
        Assert.Equal(SyscallAction.Errno(13), policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("socket"), [2, 1, 0])));
        Assert.Equal(SyscallAction.Allow, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("clone"), [0x3d0f00])));
        Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("clone"), [0x3d0f00 | 0x20000000])));
        Assert.Equal(SyscallAction.Errno(38), policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("clone3"), [])));
    }

    [Fact]
    public void DotNetAppStartsAndRunsUnderAllowDotNetRuntime()
    {
        // A real .NET 10 start (host, runtime, JIT, GC, thread pool, diagnostics IPC refused politely): this test
        // assembly's generated entry point run by the dotnet host. bench/policy/DotNetProbe covers a busy app.
        var dotnetRuntime = new PolicyBuilder().AllowDotNetRuntime().AllowExit().Build()
            .Compile(new PolicyCompileOptions(MonitorAttached: false, ExecNonce: Nonce));
        var startupOnly = new PolicyBuilder().AllowDynamicStartup().AllowExit().Build()
            .Compile(new PolicyCompileOptions(MonitorAttached: false, ExecNonce: Nonce));
        string host = Environment.ProcessPath!;   // the dotnet host running the tests
        string me = typeof(BuiltinPolicyTests).Assembly.Location;
        var run = SeccompRunner.Exec(dotnetRuntime, Nonce, _dir, host, "exec", me);
        Assert.True(run.Status == 0, $"status {run.Status}: {run.Stderr}");
        Assert.Equal(128 + 31, SeccompRunner.Exec(startupOnly, Nonce, _dir, host, "exec", me).Status);
    }

    [Fact]
    public void StartupPresetsFitStaticAndDynamicPrograms()
    {
        BpfProgram Compile(PolicyBuilder b) =>
            b.AllowWrite().AllowExit().Build().Compile(new PolicyCompileOptions(MonitorAttached: false, ExecNonce: Nonce));
        var staticOnly = Compile(new PolicyBuilder().AllowStaticStartup());
        var dynamic = Compile(new PolicyBuilder().AllowDynamicStartup());
        string hello = SeccompRunner.Testcase("hello"), helloStatic = SeccompRunner.Testcase("hello-static");
        Assert.Equal(new ExecResult(0, "hello x\n", ""), SeccompRunner.Exec(staticOnly, Nonce, _dir, helloStatic, "x"));
        Assert.Equal(128 + 31, SeccompRunner.Exec(staticOnly, Nonce, _dir, hello, "x").Status);   // ld.so needs more
        Assert.Equal(new ExecResult(0, "hello x\n", ""), SeccompRunner.Exec(dynamic, Nonce, _dir, hello, "x"));
        Assert.Equal(128 + 31, SeccompRunner.Exec(Compile(new PolicyBuilder()), Nonce, _dir, helloStatic).Status);
    }

    public static TheoryData<string, string[]> PresetSamples => new()
    {
        { "allow_read", ["read", "readv", "pread64"] },
        { "allow_write", ["write", "writev", "pwrite64"] },
        { "allow_open", ["open", "openat", "creat"] },
        { "allow_stat", ["fstat", "newfstatat", "statx", "statfs"] },
        { "allow_exit", ["exit", "exit_group"] },
        { "allow_system_malloc", ["brk", "munmap", "mremap"] },
        { "allow_static_startup", ["brk", "set_tid_address", "set_robust_list", "rseq", "arch_prctl", "uname"] },
        { "allow_dynamic_startup", ["openat", "read", "close", "mmap", "mprotect", "newfstatat", "access"] },
        { "allow_dotnet_runtime", ["clone", "futex", "membarrier", "madvise", "sched_yield", "tgkill", "rt_sigreturn", "mmap", "mprotect", "epoll_wait"] },
        { "default", ["read", "write", "openat", "close", "getdents64", "exit_group", "clone", "unlinkat", "renameat2"] },
        { "allow_fork", ["fork", "vfork", "clone"] },
        { "allow_handle_signals", ["rt_sigaction", "rt_sigreturn", "rt_sigprocmask", "sigaltstack", "restart_syscall"] },
    };

    [Theory]
    [MemberData(nameof(PresetSamples))]
    public void PresetsAllowWhatTheyName(string preset, string[] syscalls)
    {
        var policy = new PolicyBuilder().Use(preset).Build();
        foreach (var name in syscalls)
            Assert.True(SyscallAction.Allow == policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber(name), [0, 0, 0, 0, 0, 0])), $"{preset} does not allow {name}");
        Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("ptrace"), [])));
        Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("execve"), [])));
    }

    [Fact]
    public void CliAllowOnTopOfTheDefaultWins()
    {
        var policy = BuiltinPolicies.CreateDefault().AllowSyscalls("socket", "ioctl", "read").Build();
        Assert.Equal(SyscallAction.Allow, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("socket"), [2, 1, 0])));
        Assert.Equal(SyscallAction.Allow, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("ioctl"), [1, 0x1234])));
        var plain = BuiltinPolicies.CreateDefault().Build();
        Assert.Equal(SyscallAction.Errno(25), plain.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("ioctl"), [1, 0x1234])));
        Assert.Equal(SyscallAction.Allow, plain.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("ioctl"), [1, 0x5401])));
    }

    [Fact]
    public void EveryPresetBuildsAndEveryCacheableAllowLoadsOnlyArchAndNr()
    {
        foreach (var (name, apply) in BuiltinPolicies.Presets)
        {
            var b = new PolicyBuilder();
            apply(b);
            var policy = b.Build();
            var program = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: Nonce));
            foreach (var info in SyscallTable.X86_64)
            {
                var rules = policy.Rules.Where(r => r.Number == info.Number).ToList();
                if (rules.Count == 0 || !rules[0].IsUnconditional || rules[0].Action.Kind != SyscallActionKind.Allow) continue;
                // always-on argument checks (W^X, namespace flags, filters, the tagged exec, set-id modes, PR_SET_SECCOMP)
                if (info.Number is 9 or 10 or 329 or 56 or 272 or 317 or 46 or 322 or 2 or 85 or 90 or 91 or 133 or 157 or 257 or 259 or 268 or 452) continue;
                var path = PolicyCompileTests.LoadedOffsets(program, new SeccompData(info.Number, SeccompReturn.AuditArchX86_64, []));
                Assert.True(path.All(o => o is 0 or 4), $"{name}: {info.Name} loads [{string.Join(",", path)}]");
            }
            _output.WriteLine($"{name}: {policy.Rules.Count} rules, {program.Length} instructions");
        }
    }
}
