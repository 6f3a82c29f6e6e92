using System.Diagnostics;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Execution;

/// <summary>The core scenarios again as an unprivileged user (uid 65534 via setpriv as root, else the caller itself; through the built CLI): dynamic
/// programs and their libraries, fds, mounts, limits, errors. (Identity and violations: ExecutorProcessTests.)</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class UnprivilegedTests
{
    private static readonly string Probe = Sandboxes.Testcase("ex_probe");

    private static async Task<CliOutcome> RunUnprivileged(params string[] args)
    {
        var (file, all) = Security.AsCaller.Command(CliRunner.ToolPath, args);
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var a in all) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(Sandboxes.Timeout);
        return new CliOutcome(p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task HelloDynamicLsAndFds()
    {
        var dyn = await RunUnprivileged("run", "--", Sandboxes.Testcase("hello"), "world");
        Assert.True(dyn.ExitCode == 0 && dyn.Stdout == "hello world\n", dyn.ToString());
        var ls = await RunUnprivileged("run", "--", "/bin/ls", "/");
        Assert.True(ls.ExitCode == 0, ls.ToString());
        Assert.Contains("proc\n", ls.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("etc\n", ls.Stdout, StringComparison.Ordinal);
        var fds = await RunUnprivileged("run", "--", Probe, "fds");
        Assert.True(fds.Stdout == "fd 0\nfd 1\nfd 2\n", fds.ToString());
    }

    [Fact]
    public async Task FilesystemLimitsAndErrors()
    {
        string name = $"sandbox2-ex-unpriv-{Guid.NewGuid():N}";
        var tmp = await RunUnprivileged("run", "--", Probe, "write", "/tmp/" + name, "x");
        Assert.True(tmp.ExitCode == 0, tmp.ToString());
        Assert.False(File.Exists("/tmp/" + name));
        var passwd = await RunUnprivileged("run", "--", Probe, "read", "/etc/passwd");
        Assert.True(passwd.ExitCode == 1 && passwd.Stdout == "read failed: No such file or directory\n", passwd.ToString());
        var ro = await RunUnprivileged("run", "--ro-bind", "/etc/hostname:/h", "--", Probe, "write", "/h", "x");
        Assert.True(ro.ExitCode == 1 && ro.Stdout == "write failed: Read-only file system\n", ro.ToString());
        var timeout = await RunUnprivileged("run", "--time-limit", "1", "--", Probe, "sleep", "60");
        Assert.True(timeout.ExitCode == 124, timeout.ToString());
        var mem = await RunUnprivileged("run", "--memory-limit", "1G", "--", Sandboxes.Testcase("ex_probe-static"), "alloc", "4096");
        Assert.True(mem.ExitCode == 1 && mem.Stdout == "alloc failed\n", mem.ToString());
        var missing = await RunUnprivileged("run", "--", "/no/such/program");
        Assert.True(missing.ExitCode == 127, missing.ToString());
    }
}
