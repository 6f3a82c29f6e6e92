using System.Text.Json;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Diagnostics;

/// <summary><c>sandbox2 doctor</c> on this machine, and with features made to fail as they do elsewhere.</summary>
public class DoctorTests
{
    [Fact]
    public async Task OnThisMachineEverythingTheFullSandboxNeedsIsThere()
    {
        var r = await CliRunner.RunAsync("doctor");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var feature in new[] { "user namespaces", "seccomp filter", "seccomp TSYNC", "seccomp user notification", "notification FLAG_CONTINUE",
                     "pidfd", "clone3", "openat2", "mount_setattr", "close_range", "Landlock", "IA-32 emulation", "Yama ptrace scope", "cgroup v2" })
            Assert.Contains(" " + feature + ":", r.Stdout);
        Assert.DoesNotContain("MISSING", r.Stdout);
        Assert.Contains("full sandbox: ready", r.Stdout);
    }

    [Fact]
    public async Task JsonListsEveryCheck()
    {
        var r = await CliRunner.RunAsync("doctor", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("fullSandbox").GetBoolean());
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray().ToList();
        Assert.Contains(checks, c => c.GetProperty("feature").GetString() == "user namespaces" && c.GetProperty("status").GetString() == "ok");
        Assert.Contains(checks, c => c.GetProperty("feature").GetString() == "Landlock" && c.GetProperty("detail").GetString()!.StartsWith("ABI ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(DeniedCalls.LikeDocker, "user namespaces", "clone with CLONE_NEWUSER")]
    [InlineData("unshare=ENOSPC,clone_ns=ENOSPC,clone3=ENOSYS", "user namespaces", "ENOSPC")]
    [InlineData("seccomp_listener=EINVAL", "seccomp user notification", "NEW_LISTENER) failed: EINVAL")]
    [InlineData("seccomp_tsync=EINVAL", "seccomp TSYNC", "TSYNC failed: EINVAL")]
    public async Task AMissingFeatureIsNamedWithItsFixAndExitsOne(string denied, string feature, string detail)
    {
        var r = await DeniedCalls.RunCliAsync(denied, "doctor");
        Assert.True(r.ExitCode == 1, r.ToString());
        string line = r.Stdout.Split('\n').Single(l => l.StartsWith("MISSING  " + feature + ":", StringComparison.Ordinal));
        Assert.Contains(detail, line);
        int at = r.Stdout.IndexOf(line, StringComparison.Ordinal);
        string after = r.Stdout[(at + line.Length)..];
        Assert.Matches(@"^\s+without it: ", after);
        Assert.Contains("to do: ", after.Split("\nMISSING")[0].Split("\nok ")[0]);
        Assert.Contains("full sandbox: NOT ready", r.Stdout);
    }

    [Fact]
    public async Task InADockerLikeProfileNoNamespacesIsStillReady()
    {
        var r = await DeniedCalls.RunCliAsync(DeniedCalls.LikeDocker, "doctor");
        Assert.Contains("fallback clone3: failed: ENOSYS", r.Stdout);
        Assert.Contains("--isolation no-namespaces: ready", r.Stdout);
        Assert.Contains("container seccomp profile: this process already runs under", r.Stdout);
    }

    [Fact]
    public async Task WithoutLandlockNoNamespacesIsNotReady()
    {
        var r = await DeniedCalls.RunCliAsync("landlock=ENOSYS", "doctor");
        Assert.True(r.ExitCode == 0, r.ToString()); // the full sandbox does not need it
        Assert.Contains("MISSING  Landlock: landlock_create_ruleset failed: ENOSYS", r.Stdout);
        Assert.Contains("--isolation no-namespaces: NOT ready", r.Stdout);
    }

    [Fact]
    public void TheAppArmorProfileNamesTheForkserver()
    {
        string profile = Sandbox2.Diagnostics.UserNamespaceCheck.AppArmorProfile("/opt/x/sandbox2-forkserver");
        Assert.Contains("profile sandbox2-forkserver /opt/x/sandbox2-forkserver flags=(unconfined) {", profile);
        Assert.Contains("  userns,", profile);
        Assert.Contains("apparmor_parser -r", profile);
    }
}
