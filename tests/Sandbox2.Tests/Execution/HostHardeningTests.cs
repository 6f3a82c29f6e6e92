using System.Diagnostics;
using System.IO.Pipes;
using System.Text.Json;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Execution;

/// <summary>Issue 9, the host-side holes (items 4–8 and two of item 9): each attack is performed by a real sandboxee
/// (tests/testcases/host_attack.c) through the CLI or the library, and checked from the host.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class HostHardeningTests
{
    private static Syscall S(int nr, params ulong[] args) => new(SyscallArch.X86_64, nr, args);

    private static readonly string Attack = CliRunner.Testcase("host_attack");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static bool Root => Environment.UserName == "root";

    private static JsonElement Result(CliOutcome r) =>
        JsonDocument.Parse(r.Stderr[r.Stderr.IndexOf("{\n", StringComparison.Ordinal)..]).RootElement;

    private static string SharedDirectory(string prefix, UnixFileMode mode)
    {
        string dir = Directory.CreateTempSubdirectory(prefix).FullName;
        File.SetUnixFileMode(dir, mode);
        return dir;
    }

    private const UnixFileMode Sticky777 = (UnixFileMode)0b1_111_111_111;

    // ---- item 4: no set-user-ID / set-group-ID file ----

    [Fact]
    public async Task NoCallMakesASetuidOrSetgidFileInAReadWriteBind()
    {
        string dir = SharedDirectory("s2-setid-", (UnixFileMode)0b111_111_111);
        try
        {
            var r = await CliRunner.RunAsync("run", "--bind", dir, "--allow", "mknod,mknodat,openat2", "--", Attack, "setid", dir);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("create=ok\n", r.Stdout);
            foreach (string call in (string[])["chmod", "fchmod", "fchmodat", "fchmodat2", "open", "openat", "creat", "mknod", "mknodat"])
                Assert.Contains($"{call}=EPERM\n", r.Stdout);
            Assert.Contains("openat2=ENOSYS\n", r.Stdout); // its mode is in a struct: off, callers fall back to openat
            // From the host: nothing in the bind carries S_ISUID or S_ISGID.
            var files = Directory.GetFiles(dir);
            Assert.Contains(Path.Combine(dir, "f"), files);
            foreach (string f in files)
                Assert.True((File.GetUnixFileMode(f) & (UnixFileMode.SetUser | UnixFileMode.SetGroup)) == 0, $"{f}: {File.GetUnixFileMode(f)}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SetIdModesAreAnErrnoInEveryPolicyEvenAllowAll()
    {
        var all = new PolicyBuilder().DefaultAction(SyscallAction.Allow).AllowSyscall("chmod").Build();
        Assert.Equal(SyscallAction.Errno(1), all.Evaluate(S(90, 0, 0x800 | 0x1ed)));
        Assert.Equal(SyscallAction.Errno(1), all.Evaluate(S(257, 0, 0, 0x40, 0x400)));
        Assert.Equal(SyscallAction.Allow, all.Evaluate(S(90, 0, 0x1ed)));
        Assert.Equal(SyscallAction.Allow, all.Evaluate(S(257, 0, 0, 0x40, 0x1a4)));
        Assert.Equal(SyscallAction.Errno(38), all.Evaluate(S(437)));
    }

    // ---- item 4: a host uid per sandbox ----

    /// <summary>Starts the CLI on a sandboxee that waits for stdin's EOF; returns once it printed "ready PID".</summary>
    private sealed class Waiter : IAsyncDisposable
    {
        private readonly Process _cli;
        private readonly Task<string> _stderr;
        public int Pid { get; private set; }
        public string Stdout { get; private set; } = "";

        private Waiter(Process cli)
        {
            _cli = cli;
            _stderr = cli.StandardError.ReadToEndAsync();
        }

        public static async Task<Waiter> StartAsync(params string[] args)
        {
            var psi = new ProcessStartInfo(CliRunner.ToolPath) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            var w = new Waiter(Process.Start(psi)!);
            string? line = await w._cli.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
            if (line?.StartsWith("create=", StringComparison.Ordinal) == true)
            {
                w.Stdout = line + "\n";
                line = await w._cli.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
            }
            Assert.True(line?.StartsWith("ready ", StringComparison.Ordinal) == true, $"{line}\n{(w._cli.HasExited ? await w._stderr : "")}");
            w.Pid = int.Parse(line!["ready ".Length..]);
            return w;
        }

        /// <summary>Closes its stdin: the sandboxee exits 0. Returns the CLI's exit code and stderr.</summary>
        public async Task<(int Exit, string Stderr)> FinishAsync()
        {
            _cli.StandardInput.Close();
            await _cli.WaitForExitAsync().WaitAsync(Timeout);
            return (_cli.ExitCode, await _stderr);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_cli.HasExited) { _cli.Kill(entireProcessTree: true); await _cli.WaitForExitAsync(); }
            _cli.Dispose();
        }
    }

    private static uint HostUidOf(int pid)
    {
        string status = File.ReadAllText($"/proc/{pid}/status");
        string line = status.Split('\n').First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [Fact]
    public async Task ConcurrentSandboxesOfARootExecutorHaveTheirOwnHostUid()
    {
        if (!Root) return; // an unprivileged executor's sandboxes are the executor itself
        await using var a = await Waiter.StartAsync("run", "--isolation", "no-namespaces", "--", Attack, "wait");
        await using var b = await Waiter.StartAsync("run", "--isolation", "no-namespaces", "--", Attack, "wait");
        uint ua = HostUidOf(a.Pid), ub = HostUidOf(b.Pid);
        Assert.NotEqual(ua, ub);
        Assert.InRange(ua, HostIds.DefaultFirst, HostIds.DefaultLast);
        Assert.InRange(ub, HostIds.DefaultFirst, HostIds.DefaultLast);
        Assert.Equal(0, (await a.FinishAsync()).Exit);
        Assert.Equal(0, (await b.FinishAsync()).Exit);
    }

    [Fact]
    public async Task ASandboxCannotSignalAnotherSandbox()
    {
        if (!Root) return;
        // Without namespaces the other sandbox's processes are visible by their host pids: the worst case.
        await using var victim = await Waiter.StartAsync("run", "--isolation", "no-namespaces", "--", Attack, "wait");
        var direct = await CliRunner.RunAsync("run", "--isolation", "no-namespaces", "--allow", "kill", "--", Attack, "kill", victim.Pid.ToString());
        Assert.True(direct.Stdout == "kill=EPERM\n", direct.ToString());
        // kill(-1): every process the attacker may signal (its own init among them), and not the victim.
        var all = await CliRunner.RunAsync("run", "--isolation", "no-namespaces", "--allow", "kill", "--", Attack, "kill", "-1");
        Assert.True(Sandboxes.ProcessExists(victim.Pid), all.ToString());
        var (exit, stderr) = await victim.FinishAsync();
        Assert.True(exit == 0, stderr);
    }

    [Fact]
    public async Task ASandboxCannotAlterTheFilesAnotherOneLeftInASharedBind()
    {
        if (!Root) return;
        string dir = SharedDirectory("s2-shared-", Sticky777);
        try
        {
            string file = Path.Combine(dir, "a.txt");
            await using var owner = await Waiter.StartAsync("run", "--bind", dir, "--", Attack, "create-wait", file);
            Assert.Equal("create=ok\n", owner.Stdout);
            var t = await CliRunner.RunAsync("run", "--bind", dir, "--allow", "rename", "--", Attack, "tamper", file);
            Assert.True(t.ExitCode == 0, t.ToString());
            Assert.Equal("append=EACCES\nchmod=EPERM\nrename=EPERM\nunlink=EPERM\n", t.Stdout);
            Assert.Equal("mine\n", File.ReadAllText(file));
            Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(file));
            Assert.Equal(0, (await owner.FinishAsync()).Exit);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TheHostIdRangeIsConfigurableAndChecked()
    {
        Assert.Equal((HostIds.DefaultFirst, HostIds.DefaultLast), HostIds.Range());
        Assert.Equal(2_000_065_535u - 2_000_000_000u, HostIds.DefaultLast - HostIds.DefaultFirst);
    }

    // ---- item 5: the invoker's session keyring ----

    [Fact]
    public async Task TheInvokersSessionKeyringIsOutOfReach()
    {
        var psi = new ProcessStartInfo(Attack) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["host-keyring", "s2-secret", "topsecret", CliRunner.ToolPath, "run", "--allow", "keyctl,add_key,request_key",
                     "--", Attack, "keyring", "s2-secret"]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(Timeout);
        string output = await stdout, errors = await stderr;
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{output}\n{errors}");
        Assert.Equal("request_key=ENOKEY\nsearch_session=ENOKEY\nsearch_user=ENOKEY\nadd_key=ok\n", output);
        // From the host: the session keyring still holds only the secret, unchanged (the key went to the sandbox's own).
        Assert.Contains("keys=1 payload=topsecret\n", errors);
    }

    // ---- item 6: stacking a filter of its own ----

    [Theory]
    [InlineData("stack-prctl", "prctl", "prctl")]
    [InlineData("stack-seccomp", "seccomp", "seccomp")]
    [InlineData("strict", "seccomp", "seccomp")]
    public async Task InstallingAFurtherFilterIsAViolationEvenWhenAllowed(string mode, string allow, string syscall)
    {
        var r = await CliRunner.RunAsync("run", "--allow", allow, "--result", "-", "--", Attack, mode);
        Assert.True(r.ExitCode == 159, r.ToString());
        Assert.Equal("", r.Stdout); // nothing after the attempt ran
        var v = Result(r).GetProperty("violation");
        Assert.Equal(syscall, v.GetProperty("syscall").GetString());
    }

    [Fact]
    public void PresetsAllowOnlyTheListedPrctlOptions()
    {
        foreach (var policy in new[] { BuiltinPolicies.CreateDefault().Build(), new PolicyBuilder().AllowDotNetRuntime().Build() })
        {
            Assert.Equal(SyscallAction.Allow, policy.Evaluate(S(157, 15 /*PR_SET_NAME*/)));
            Assert.Equal(SyscallAction.Allow, policy.Evaluate(S(157, 0x53564d41 /*PR_SET_VMA*/)));
            Assert.Equal(SyscallAction.Violation, policy.Evaluate(S(157, 22 /*PR_SET_SECCOMP*/)));
            Assert.Equal(SyscallAction.Errno(22), policy.Evaluate(S(157, 4 /*PR_SET_DUMPABLE*/)));
        }
        var optIn = new PolicyBuilder().AllowSyscalls("prctl", "seccomp").AllowNestedSeccompFilters().Build();
        Assert.Equal(SyscallAction.Allow, optIn.Evaluate(S(157, 22)));
        Assert.Equal(SyscallAction.Allow, optIn.Evaluate(S(317, 1, 0)));
        Assert.Equal(SyscallAction.Violation, optIn.Evaluate(S(317, 1, 8 /*NEW_LISTENER*/)));
    }

    // ---- item 7: io_uring ----

    [Fact]
    public async Task IoUringIsRefusedOnTheCommandLine()
    {
        var r = await CliRunner.RunAsync("run", "--allow", "io_uring_setup,io_uring_enter", "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("io_uring_setup", r.Stderr);
        Assert.Contains("seccomp never sees them", r.Stderr);
    }

    [Fact]
    public void IoUringIsRefusedByThePolicyBuilderUnlessDangerouslyAllowed()
    {
        foreach (string name in (string[])["io_uring_setup", "io_uring_enter", "io_uring_register"])
        {
            var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AllowSyscall(name).Build());
            Assert.StartsWith(name, e.Message, StringComparison.Ordinal);
            Assert.Throws<PolicyException>(() => new PolicyBuilder().TraceSyscall(name).Build());
        }
        Assert.Equal(SyscallAction.Allow, new PolicyBuilder().AllowSyscall("io_uring_setup").DangerouslyAllowIoUring().Build().Evaluate(S(425)));
        Assert.Equal(SyscallAction.Errno(38), new PolicyBuilder().DefaultAction(SyscallAction.Allow).Build().Evaluate(S(426)));
        Assert.Equal(SyscallAction.Errno(1), new PolicyBuilder().BlockSyscallWithErrno("io_uring_setup", 1).Build().Evaluate(S(425)));
    }

    // ---- item 8: W^X ----

    [Theory]
    [InlineData("rwx", "mmap")]
    [InlineData("rwx-mprotect", "mprotect")]
    public async Task AWritableExecutableMappingIsAViolationUnderTheDefaultPolicy(string mode, string syscall)
    {
        var r = await CliRunner.RunAsync("run", "--result", "-", "--", Attack, mode);
        Assert.True(r.ExitCode == 159, r.ToString());
        Assert.DoesNotContain("injected=", r.Stdout);
        Assert.Equal(syscall, Result(r).GetProperty("violation").GetProperty("syscall").GetString());
    }

    [Fact]
    public void OnlyTheJitPresetAllowsWritableExecutableMappings()
    {
        var rwx = S(9, 0, 4096, 7, 0x22);
        var rx = S(9, 0, 4096, 5, 0x02);
        var dflt = BuiltinPolicies.CreateDefault().Build();
        Assert.Equal(SyscallAction.Violation, dflt.Evaluate(rwx));
        Assert.Equal(SyscallAction.Allow, dflt.Evaluate(rx)); // ld.so maps libraries read+exec
        Assert.Equal(SyscallAction.Violation, dflt.Evaluate(S(329, 0, 4096, 6, 0)));
        Assert.Equal(SyscallAction.Allow, new PolicyBuilder().AllowDotNetRuntime().Build().Evaluate(rwx));
        Assert.Equal(SyscallAction.Violation, new PolicyBuilder().AllowDynamicStartup().Build().Evaluate(S(10, 0, 4096, 7)));
    }

    // ---- item 9: the terminal's flags, and a policy never applied ----

    [Fact]
    public async Task TheCliRestoresTheStatusFlagsOfItsStdio()
    {
        // sh keeps the pipes' open file descriptions after the tool has exited; the last command reads their flags.
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-c", "\"$1\" run -- \"$2\" nonblock; \"$2\" getfl", "sh", CliRunner.ToolPath, Attack]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(Timeout);
        string output = await stdout;
        Assert.True(output == "setfl=ok\nsetfl=ok\nsetfl=ok\nnonblock=0\n", output + await stderr);
        p.StandardInput.Close();
    }

    [Fact]
    public async Task TheLibraryRestoresTheStatusFlagsOfTheStdioItPasses()
    {
        using var stdout = new AnonymousPipeServerStream(PipeDirection.In);
        using var stdin = new AnonymousPipeServerStream(PipeDirection.Out);
        var executor = new Executor(Attack, ["nonblock"]) { Stdin = new Microsoft.Win32.SafeHandles.SafeFileHandle(stdin.ClientSafePipeHandle.DangerousGetHandle(), false),
            Stdout = new Microsoft.Win32.SafeHandles.SafeFileHandle(stdout.ClientSafePipeHandle.DangerousGetHandle(), false) };
        int before = Interop.Fcntl(stdout.ClientSafePipeHandle, Interop.F_GETFL, 0);
        await using var sandbox = new Sandbox(executor, Sandboxes.Policy(Attack).Build());
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok, result.ToString());
        Assert.Equal(before, Interop.Fcntl(stdout.ClientSafePipeHandle, Interop.F_GETFL, 0));
        Assert.Equal(0, Interop.Fcntl(stdin.ClientSafePipeHandle, Interop.F_GETFL, 0) & Interop.O_NONBLOCK);
    }

    [Fact]
    public async Task AProgramThatNeverAppliesItsPolicyIsReportedAndWarnedAbout()
    {
        var r = await CliRunner.RunAsync("run", "--sandbox-after-start", "--time-limit", "30", "--result", "-", "--", "/bin/true");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(Result(r).GetProperty("isolation").GetProperty("seccomp").GetBoolean());
        Assert.Contains("warning: --sandbox-after-start: the program never applied its policy", r.Stderr);

        var applied = await CliRunner.RunAsync("run", "--result", "-", "--", "/bin/true");
        Assert.True(Result(applied).GetProperty("isolation").GetProperty("seccomp").GetBoolean(), applied.ToString());
        Assert.DoesNotContain("never applied", applied.Stderr);
    }
}
