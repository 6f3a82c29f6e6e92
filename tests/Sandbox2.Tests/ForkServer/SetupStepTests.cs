using System.Text.RegularExpressions;

namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>The native setup steps and their reason codes: one table, the same numbers on both sides of the boundary.</summary>
public partial class SetupStepTests
{
    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sandbox2.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException("repository root not found from " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\bST_([A-Z0-9_]+) = (\d+)")]
    private static partial Regex NativeStep();

    private static string NativeSources() =>
        string.Join("\n", Directory.GetFiles(RepoFile("native"), "*.[ch]").Order(StringComparer.Ordinal).Select(File.ReadAllText));

    /// <summary>Every <c>enum step</c> value of native/sandbox2.h is a <see cref="SetupStep"/> and vice versa.</summary>
    [Fact]
    public void NativeAndManagedStepNumbersAgree()
    {
        string c = File.ReadAllText(RepoFile("native/sandbox2.h"));
        int start = c.IndexOf("enum step {", StringComparison.Ordinal), end = c.IndexOf("};", start, StringComparison.Ordinal);
        var native = NativeStep().Matches(c[start..end]).Select(m => (Name: m.Groups[1].Value, Value: int.Parse(m.Groups[2].Value))).ToList();
        Assert.True(native.Count > 40, $"only {native.Count} native steps parsed");
        Assert.Equal(native.Select(n => n.Value).Order(), Enum.GetValues<SetupStep>().Select(s => (int)s).Order());
        foreach (var (name, value) in native)
            Assert.True(Enum.IsDefined((SetupStep)value), $"ST_{name} = {value} has no SetupStep");
    }

    /// <summary>Every native failure report names an ST_ step (the compiler checks the type; this checks no text slipped in).</summary>
    [Fact]
    public void NativeFailuresAlwaysCarryAStepCode()
    {
        string c = NativeSources();
        foreach (Match m in Regex.Matches(c, @"\b(fail|CHECK)\((?<args>[^;]*)\);"))
        {
            string args = m.Groups["args"].Value;
            if (m.Value.StartsWith("fail(int", StringComparison.Ordinal) || args.StartsWith("x, step", StringComparison.Ordinal)) continue;
            Assert.Matches(@"\bST_[A-Z0-9_]+|\bwhat\b|\bstep\b", args);
        }
    }

    public static TheoryData<int, ReasonCode, KernelFeature> Table => new()
    {
        { (int)SetupStep.Request, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.Pipe, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.Clone, ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces },
        { (int)SetupStep.SetGroups, ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces },
        { (int)SetupStep.UidMap, ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces },
        { (int)SetupStep.GidMap, ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces },
        { (int)SetupStep.ReleaseInit, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.CgroupClone, ReasonCode.FailedLimits, KernelFeature.Cgroups },
        { (int)SetupStep.CgroupProcs, ReasonCode.FailedLimits, KernelFeature.Cgroups },
        { (int)SetupStep.SetResGid, ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces },
        { (int)SetupStep.SetResUid, ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces },
        { (int)SetupStep.InitParentDeathSignal, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.Hostname, ReasonCode.FailedNamespaces, KernelFeature.UtsNamespaces },
        { (int)SetupStep.Loopback, ReasonCode.FailedNamespaces, KernelFeature.NetworkNamespaces },
        { (int)SetupStep.CgroupNamespace, ReasonCode.FailedNamespaces, KernelFeature.Cgroups },
        { (int)SetupStep.RootPrivate, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.Scratch, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.PivotScratch, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.RootTmpfs, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.MakeDirectory, ReasonCode.FailedNamespaces, KernelFeature.Openat2 },
        { (int)SetupStep.CreateFile, ReasonCode.FailedNamespaces, KernelFeature.Openat2 },
        { (int)SetupStep.Symlink, ReasonCode.FailedNamespaces, KernelFeature.Openat2 },
        { (int)SetupStep.MountTarget, ReasonCode.FailedNamespaces, KernelFeature.Openat2 },
        { (int)SetupStep.Bind, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.MountFlags, ReasonCode.FailedNamespaces, KernelFeature.MountSetattr },
        { (int)SetupStep.Tmpfs, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.Proc, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.DetachOldRoot, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.PivotRoot, ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces },
        { (int)SetupStep.RemountReadOnly, ReasonCode.FailedNamespaces, KernelFeature.MountSetattr },
        { (int)SetupStep.MountKind, ReasonCode.FailedNamespaces, KernelFeature.None },
        { (int)SetupStep.Fork, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.InitFds, ReasonCode.FailedIpc, KernelFeature.None },
        { (int)SetupStep.Subreaper, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.ParentDeathSignal, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.SetSid, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.SignalMask, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.Dup, ReasonCode.FailedIpc, KernelFeature.None },
        { (int)SetupStep.Dup2, ReasonCode.FailedIpc, KernelFeature.None },
        { (int)SetupStep.CloseRange, ReasonCode.FailedIpc, KernelFeature.CloseRange },
        { (int)SetupStep.Rlimit, ReasonCode.FailedLimits, KernelFeature.None },
        { (int)SetupStep.Chdir, ReasonCode.FailedCwd, KernelFeature.None },
        { (int)SetupStep.Capabilities, ReasonCode.FailedNamespaces, KernelFeature.None },
        { (int)SetupStep.NoNewPrivs, ReasonCode.FailedPolicy, KernelFeature.Seccomp },
        { (int)SetupStep.Seccomp, ReasonCode.FailedPolicy, KernelFeature.Seccomp },
        { (int)SetupStep.SeccompListener, ReasonCode.FailedPolicy, KernelFeature.SeccompUserNotification },
        { (int)SetupStep.SendListener, ReasonCode.FailedMonitor, KernelFeature.None },
        { (int)SetupStep.Exec, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.Landlock, ReasonCode.FailedPolicy, KernelFeature.Landlock },
        { (int)SetupStep.LandlockRule, ReasonCode.FailedPolicy, KernelFeature.Landlock },
        { (int)SetupStep.SharedNetNs, ReasonCode.FailedNamespaces, KernelFeature.None },
        { (int)SetupStep.LandlockRestrict, ReasonCode.FailedPolicy, KernelFeature.Landlock },
        { (int)SetupStep.BindSource, ReasonCode.FailedNamespaces, KernelFeature.Openat2 },
        { (int)SetupStep.BindSourceChanged, ReasonCode.FailedNamespaces, KernelFeature.None },
        { (int)SetupStep.LandlockPathChanged, ReasonCode.FailedPolicy, KernelFeature.None },
        { (int)SetupStep.Keyring, ReasonCode.FailedSubprocess, KernelFeature.None },
        { (int)SetupStep.Nice, ReasonCode.FailedLimits, KernelFeature.None },
        { (int)SetupStep.Trace, ReasonCode.FailedSubprocess, KernelFeature.None },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void EveryStepHasItsReasonCodeAndFeature(int step, ReasonCode code, KernelFeature feature)
    {
        var info = SetupSteps.Describe((SetupStep)step);
        Assert.Equal(code, info.Code);
        Assert.Equal(feature, info.Feature);
        Assert.DoesNotContain("setup step", info.Text, StringComparison.Ordinal); // not the fallback for unknown numbers
    }

    [Fact]
    public void TheTableCoversEveryStep() =>
        Assert.Equal(Enum.GetValues<SetupStep>().Order(), Table.Select(row => (SetupStep)(int)row[0]).Order());

    [Fact]
    public void UnknownStepNumbersStillGiveAResult()
    {
        var f = SetupFailure.FromNative((SetupStep)999, 5, "x");
        Assert.Equal(ReasonCode.FailedSubprocess, f.Code);
        Assert.Contains("999", f.What, StringComparison.Ordinal);
    }

    [Fact]
    public void ReasonCodesAreSpelledAsTheContractSays()
    {
        Assert.Equal("FAILED_POLICY", ReasonCode.FailedPolicy.ToContractName());
        Assert.Equal("FAILED_SANDBOX_ME_HERE", ReasonCode.FailedSandboxMeHere.ToContractName());
        Assert.Equal("VIOLATION_ARCH", ReasonCode.ViolationArch.ToContractName());
        Assert.Equal("PROGRAM_NOT_FOUND", ReasonCode.ProgramNotFound.ToContractName());
        Assert.Equal("OOM", ReasonCode.Oom.ToContractName());
        Assert.Equal("OUTPUT_LIMIT", ReasonCode.OutputLimit.ToContractName());
        Assert.Equal("CPU_LIMIT", ReasonCode.CpuLimit.ToContractName());
        Assert.Equal("WALL_TIME", ReasonCode.WallTime.ToContractName());
    }

    /// <summary>The kernel rejects a malformed filter: "install seccomp filter" is a policy failure (it was reported as
    /// FAILED_NAMESPACES before the steps were typed).</summary>
    [Fact]
    public async Task RejectedFilterIsFailedPolicy()
    {
        byte[] bad = new byte[8]; // one "ld [0]" with no return: the kernel's checker refuses it (EINVAL)
        bad[0] = 0x20;
        var (report, _) = await FsPlans.Run(ForkServer.Global, o => FsPlans.Probe(o, ["getpid"], bpf: bad));
        Assert.Equal(SetupStep.Seccomp, report.Failure?.Step);
        Assert.Equal(ReasonCode.FailedPolicy, report.Failure?.Code);
        Assert.Equal(22, report.SetupErrno);
        Assert.Equal(ReasonCode.FailedPolicy, SandboxOutcome.FromFailure(report.Failure!).ReasonCode);
    }

    /// <summary>A mapping to an fd number past RLIMIT_NOFILE fails in dup2: an IPC failure, not a namespace one.</summary>
    [Fact]
    public async Task FdMappingPastTheLimitIsFailedIpc()
    {
        var (read, write) = FsPlans.Pipe();
        using (read)
        using (write)
        {
            var (report, _) = await FsPlans.Run(ForkServer.Global, o => FsPlans.Probe(o, [], fds: [new FdMapping(1, o), new FdMapping(60000, write)]));
            Assert.True(report.Failure?.Step is SetupStep.Dup or SetupStep.Dup2, report.SetupFailedStep);
            Assert.Equal(ReasonCode.FailedIpc, report.Failure?.Code);
        }
    }

    [Fact]
    public async Task MissingWorkingDirectoryIsFailedCwd()
    {
        var (report, _) = await FsPlans.Run(ForkServer.Global, o => FsPlans.Probe(o, []) is var p ? new SandboxPlan
        {
            OutsideUid = p.OutsideUid, OutsideGid = p.OutsideGid, Mounts = p.Mounts, Argv = p.Argv, Environment = p.Environment,
            ProgramFd = p.ProgramFd, Fds = p.Fds, Cwd = "/no/such/dir",
        } : null!);
        Assert.Equal(SetupStep.Chdir, report.Failure?.Step);
        Assert.Equal(ReasonCode.FailedCwd, report.Failure?.Code);
        Assert.Equal("chdir /no/such/dir", report.SetupFailedStep);
    }
}
