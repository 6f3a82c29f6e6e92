using System.Diagnostics;
using System.Runtime.InteropServices;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Execution;

/// <summary>The executor as a separate process (the built <c>sandbox2</c> CLI, a thin layer over the library): its death
/// ends every sandbox; and the core scenarios again as an unprivileged user (uid 65534 via setpriv).</summary>
public class ExecutorProcessTests
{
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private static readonly string[] Unprivileged = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    private static readonly string Probe = Run.Testcase("ex_probe");
    private static readonly string FsProbe = Run.Testcase("fs_probe");

    [Fact]
    public async Task KillingTheExecutorWithSigkillLeavesNoSandboxProcess()
    {
        string marker = $"sandbox2-ex-marker-{Guid.NewGuid():N}";
        var start = new ProcessStartInfo(CliRunner.ToolPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["run", "--", Probe, "sleep", "100", marker]) start.ArgumentList.Add(a);
        using var executor = Process.Start(start)!;
        try
        {
            string? line = await executor.StandardOutput.ReadLineAsync().WaitAsync(Run.Timeout);
            Assert.Equal("sleeping", line);
            Assert.NotEmpty(Run.ProcessesWith(marker)); // the sandboxee, seen from the host
            Assert.Equal(0, kill(executor.Id, 9));
            await executor.WaitForExitAsync().WaitAsync(Run.Timeout);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Run.ProcessesWith(marker).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.Empty(Run.ProcessesWith(marker));
            // The sandboxee held the stdout pipe: EOF means no process of the sandbox is left holding it.
            Assert.Equal("", await executor.StandardOutput.ReadToEndAsync().WaitAsync(Run.Timeout));
        }
        finally
        {
            if (!executor.HasExited) executor.Kill(entireProcessTree: true);
        }
    }

    private static Task<CliOutcome> RunUnprivileged(params string[] args) => RunAs(Unprivileged, args);

    private static async Task<CliOutcome> RunAs(string[] prefix, string[] args)
    {
        var start = new ProcessStartInfo(prefix[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in prefix[1..]) start.ArgumentList.Add(a);
        start.ArgumentList.Add(CliRunner.ToolPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(Run.Timeout);
        return new CliOutcome(p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task UnprivilegedHelloStaticAndDynamicAndLs()
    {
        var dyn = await RunUnprivileged("run", "--", Run.Testcase("hello"), "world");
        Assert.True(dyn.ExitCode == 0 && dyn.Stdout == "hello world\n", dyn.ToString());
        var stat = await RunUnprivileged("run", "--", Run.Testcase("hello-static"));
        Assert.True(stat.ExitCode == 0 && stat.Stdout == "hello\n", stat.ToString());
        var ls = await RunUnprivileged("run", "--", "/bin/ls", "/");
        Assert.True(ls.ExitCode == 0, ls.ToString());
        Assert.Contains("proc\n", ls.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("etc\n", ls.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnprivilegedIdentityInside()
    {
        var o = await RunUnprivileged("run", "--", FsProbe, "status");
        Assert.True(o.ExitCode == 0, o.ToString());
        var lines = o.Stdout.Split('\n');
        Assert.Contains("pid 2", lines);
        Assert.Contains("hostname sandbox2", lines);
        Assert.Contains("Uid:\t1000\t1000\t1000\t1000", lines);
        Assert.Contains("CapEff:\t0000000000000000", lines);
        Assert.Contains("NoNewPrivs:\t1", lines);
        Assert.Contains("Seccomp:\t2", lines);
        var fds = await RunUnprivileged("run", "--", FsProbe, "fds");
        Assert.Equal("0\n1\n2\n", fds.Stdout);
    }

    [Fact]
    public async Task UnprivilegedFilesystemLimitsAndErrors()
    {
        string name = $"sandbox2-ex-unpriv-{Guid.NewGuid():N}";
        var tmp = await RunUnprivileged("run", "--", Probe, "write", "/tmp/" + name);
        Assert.True(tmp.ExitCode == 0, tmp.ToString());
        Assert.False(File.Exists("/tmp/" + name));
        var passwd = await RunUnprivileged("run", "--", Probe, "read", "/etc/passwd");
        Assert.True(passwd.ExitCode == 1 && passwd.Stdout == "/etc/passwd: No such file or directory\n", passwd.ToString());
        var ro = await RunUnprivileged("run", "--ro-bind", "/etc/hostname:/h", "--", Probe, "write", "/h");
        Assert.True(ro.ExitCode == 1 && ro.Stdout == "write /h: Read-only file system\n", ro.ToString());
        var timeout = await RunUnprivileged("run", "--time-limit", "1", "--", Probe, "sleep", "60");
        Assert.True(timeout.ExitCode == 124, timeout.ToString());
        var mem = await RunUnprivileged("run", "--memory-limit", "1G", "--", Run.Testcase("ex_probe-static"), "alloc", "4096");
        Assert.True(mem.ExitCode == 3 && mem.Stdout == "alloc refused\n", mem.ToString());
        var missing = await RunUnprivileged("run", "--", "/no/such/program");
        Assert.True(missing.ExitCode == 127, missing.ToString());
    }
}
