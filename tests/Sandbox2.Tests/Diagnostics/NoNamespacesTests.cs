using System.Text.Json;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Diagnostics;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
/// <summary><c>--isolation no-namespaces</c> / <c>PolicyBuilder.DisableNamespaces()</c>: seccomp + Landlock + rlimits where
/// namespaces cannot be made (here: under a Docker-like profile), and it says so.</summary>
public class NoNamespacesTests
{
    private static Task<CliOutcome> Run(params string[] args) =>
        DeniedCalls.RunCliAsync(DeniedCalls.LikeDocker, ["run", "--isolation", "no-namespaces", "--result", "-", .. args]);

    private static JsonElement Result(CliOutcome r) =>
        JsonDocument.Parse(r.Stderr[r.Stderr.IndexOf("{\n", StringComparison.Ordinal)..]).RootElement;

    [Fact]
    public async Task GrantedFilesWorkOthersDoNotAndTheResultSaysSo()
    {
        string dir = Directory.CreateTempSubdirectory("s2-nons-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "in.txt"), "b\na\n");
            FallbackTests.Chmod(dir);
            var r = await Run("--ro-bind", dir, "--", "/usr/bin/sort", Path.Combine(dir, "in.txt"));
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("a\nb\n", r.Stdout);
            Assert.Contains("warning: ran with --isolation no-namespaces: weaker", r.Stderr);
            var iso = Result(r).GetProperty("isolation");
            Assert.Equal("no-namespaces", iso.GetProperty("level").GetString());
            Assert.True(iso.GetProperty("landlock").GetInt32() >= 1);

            var denied = await Run("--", "/bin/cat", "/etc/hostname");
            Assert.True(denied.ExitCode == 1, denied.ToString());
            Assert.Contains("/etc/hostname: Permission denied", denied.Stderr);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task WritesGoOnlyToReadWritePaths()
    {
        string ro = Directory.CreateTempSubdirectory("s2-nons-ro-").FullName, rw = Directory.CreateTempSubdirectory("s2-nons-rw-").FullName;
        try
        {
            FallbackTests.Chmod(ro);
            File.SetUnixFileMode(rw, (UnixFileMode)0b111_111_111);
            var r = await Run("--ro-bind", ro, "--bind", rw, "--", "/usr/bin/touch", Path.Combine(rw, "ok"), Path.Combine(ro, "no"), "/var/tmp/s2-outside");
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.True(File.Exists(Path.Combine(rw, "ok")));
            Assert.False(File.Exists(Path.Combine(ro, "no")));
            Assert.False(File.Exists("/var/tmp/s2-outside"));
            Assert.Contains("no': Permission denied", r.Stderr);
            Assert.Contains("s2-outside': Permission denied", r.Stderr);
        }
        finally { Directory.Delete(ro, true); Directory.Delete(rw, true); }
    }

    [Fact]
    public async Task TmpIsAPrivateDirectoryRemovedAfterwards()
    {
        var r = await Run("--", "/usr/bin/env");
        Assert.True(r.ExitCode == 0, r.ToString());
        string tmp = r.Stdout.Split('\n').Single(l => l.StartsWith("TMPDIR=", StringComparison.Ordinal))["TMPDIR=".Length..];
        Assert.StartsWith(Path.GetTempPath().TrimEnd('/') + "/sandbox2-tmp-", tmp);
        Assert.False(Directory.Exists(tmp));
    }

    [Fact]
    public async Task NoProcessOutlivesTheSandbox()
    {
        // The child would sleep for 10 minutes: without a pid namespace, init (a subreaper) must kill it when PID 2 ends.
        var r = await Run("--ro-bind", "/usr/lib/python3.11", "--", "/usr/bin/python3", "-c",
            "import os, time\npid = os.fork()\nif pid == 0:\n    time.sleep(600)\nprint(pid, flush=True)");
        Assert.True(r.ExitCode == 0, r.ToString());
        int child = int.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        string? stat = null;
        try { stat = File.ReadAllText($"/proc/{child}/stat"); } catch (IOException) { }
        Assert.True(stat is null || stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'), $"pid {child} still runs: {stat}");
    }

    [Fact]
    public async Task AForbiddenSyscallIsStillAViolation()
    {
        var r = await Run("--", CliRunner.Testcase("cli_syscall"), CliRunner.PtraceNumber);
        Assert.True(r.ExitCode == 159, r.ToString());
        Assert.Equal("VIOLATION", Result(r).GetProperty("status").GetString());
        Assert.Equal("ptrace", Result(r).GetProperty("violation").GetProperty("syscall").GetString());
    }

    [Fact]
    public async Task TheFullSandboxAlsoReportsItsLandlockWall()
    {
        var r = await CliRunner.RunAsync("run", "--result", "-", "--", "/bin/true");
        Assert.True(r.ExitCode == 0, r.ToString());
        var iso = Result(r).GetProperty("isolation");
        Assert.Equal("namespaces", iso.GetProperty("level").GetString());
        Assert.Equal(Landlock.Abi, iso.GetProperty("landlock").GetInt32());
    }

    [Fact]
    public void PathsThatNeedAMountNamespaceAreRefused()
    {
        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectoryAt("/usr", "/data").DisableNamespaces().Build());
        Assert.Contains("needs a mount namespace", e.Message);
        Assert.Throws<PolicyException>(() => new PolicyBuilder().SetNetwork(NetworkMode.Loopback).DisableNamespaces().Build());
        Assert.Throws<PolicyException>(() => new PolicyBuilder().DisableNamespaces().DisableLandlock().Build());
        Assert.Equal(LandlockMode.Required, new PolicyBuilder().DisableNamespaces().Build().Namespace.Landlock);
    }

    [Fact]
    public void LandlockRulesFollowTheMounts()
    {
        var m = new Mounts();
        m.AddDirectory("/usr");
        m.AddTmpfs("/tmp", 1 << 20);
        m.AddMinimalDev();
        var inside = Landlock.For(m, 7, insidePaths: true, NetworkMode.None);
        Assert.Equal(Landlock.ReadDir, inside.Rules.Single(r => r.Path == "/").Access);
        Assert.Equal(Landlock.Execute | Landlock.ReadFile | Landlock.ReadDir, inside.Rules.Single(r => r.Path == "/usr").Access);
        Assert.NotEqual(0UL, inside.Rules.Single(r => r.Path == "/tmp").Access & Landlock.WriteFile);
        Assert.Equal(0UL, inside.Rules.Single(r => r.Path == "/dev/null").Access & Landlock.ReadDir);
        Assert.Equal(Landlock.BindTcp | Landlock.ConnectTcp, inside.HandledNet);
        var outside = Landlock.For(m, 3, insidePaths: false, NetworkMode.Host, privateTmp: "/tmp/private");
        Assert.DoesNotContain(outside.Rules, r => r.Path == "/");
        Assert.Contains(outside.Rules, r => r.Path == "/tmp/private");
        Assert.Equal(0UL, outside.HandledNet);
        Assert.Equal(0UL, outside.HandledFs & Landlock.IoctlDev);
    }
}
