using Sandbox2.Tests.Cli;
using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Security;

/// <summary>Issue 9, item 9 (the /proc part): the sandbox's fresh procfs does not show what it would of the host:
/// <c>/proc/cmdline</c> (the host's boot line), <c>/proc/loadavg</c> (the host's task count), <c>/proc/sys/kernel</c>
/// (boot_id, hostname, osrelease...), kernel memory, keys, timers: each read from inside, empty; the rest of /proc
/// still works.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ProcMaskTests
{
    [Theory]
    [InlineData("/proc/cmdline")]
    [InlineData("/proc/loadavg")]
    [InlineData("/proc/keys")]
    [InlineData("/proc/timer_list")]
    [InlineData("/proc/interrupts")]
    public async Task AMaskedProcFileReadsEmpty(string file)
    {
        if (!File.Exists(file)) return; // not in this kernel
        var run = await CliRunner.RunAsync("run", "--", "/bin/cat", file);
        Assert.True(run.ExitCode == 0 && run.Stdout == "", run.ToString());
    }

    [Fact]
    public async Task TheHostsBootLineAndLoadAreNotVisible_ThroughTheLibrary()
    {
        string hostCmdline = (await File.ReadAllTextAsync("/proc/cmdline")).Trim();
        Assert.NotEqual("", hostCmdline); // the attack would show something
        var outcome = await Sandboxes.Async(new Executor("/bin/cat", ["/proc/cmdline", "/proc/loadavg", "/proc/self/stat"]), Sandboxes.Policy("/bin/cat").Build());
        Assert.True(outcome.Result.Status == SandboxStatus.Ok, outcome.ToString());
        Assert.DoesNotContain(hostCmdline, outcome.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("2 (cat) R ", outcome.Stdout, StringComparison.Ordinal); // only /proc/self/stat printed: pid 2 in its own pid namespace
    }

    [Fact]
    public async Task ProcSysKernelIsAnEmptyReadOnlyDirectory()
    {
        Assert.True(File.Exists("/proc/sys/kernel/random/boot_id"));
        var ls = await CliRunner.RunAsync("run", "--", "/bin/ls", "-A", "/proc/sys/kernel");
        Assert.True(ls.ExitCode == 0 && ls.Stdout == "", ls.ToString());
        var boot = await CliRunner.RunAsync("run", "--", "/bin/cat", "/proc/sys/kernel/random/boot_id");
        Assert.True(boot.ExitCode != 0 && boot.Stdout == "", boot.ToString());
        Assert.Contains("No such file or directory", boot.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheRestOfProcStillWorks()
    {
        var run = await CliRunner.RunAsync("run", "--", "/bin/cat", "/proc/self/status", "/proc/meminfo");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Name:\tcat", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("MemTotal:", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryMaskIsPlannedAfterTheProcMount()
    {
        var ops = new PolicyBuilder().AddProc().Build().Namespace.Mounts.ToMountOps();
        try
        {
            int proc = ops.FindIndex(o => o.Kind == MountOpKind.Proc);
            int cmdline = ops.FindIndex(o => o.Target == "/proc/cmdline");
            int kernel = ops.FindIndex(o => o.Target == "/proc/sys/kernel");
            Assert.True(proc >= 0 && cmdline > proc && kernel > proc);
            Assert.Equal("/dev/null", ops[cmdline].Source);
            Assert.True(ops[cmdline].Flags.HasFlag(MountFlags.ReadOnly) && ops[cmdline].SourceIdentity is not null);
            Assert.True(ops[kernel] is { Kind: MountOpKind.Tmpfs } && ops[kernel].Flags.HasFlag(MountFlags.ReadOnly));
        }
        finally
        {
            foreach (var op in ops) op.SourceHandle?.Dispose();
        }
    }
}
