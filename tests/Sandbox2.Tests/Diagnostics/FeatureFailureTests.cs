using System.Text.Json;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Diagnostics;

/// <summary>Setup failures caused by a missing kernel feature name the feature and point to doctor (CLI and library).</summary>
public class FeatureFailureTests
{
    [Fact]
    public async Task RunWithoutUserNamespacesNamesThemDoctorAndNoNamespaces()
    {
        var r = await DeniedCalls.RunCliAsync(DeniedCalls.LikeDocker, "run", "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        string line = Assert.Single(r.ToolLines);
        Assert.Contains("user namespaces", line);
        Assert.Contains("see 'sandbox2 doctor'", line);
        Assert.Contains("--isolation no-namespaces", line);
        Assert.DoesNotContain("\n", line);
    }

    [Fact]
    public async Task RunWithoutUserNotificationNamesIt()
    {
        var r = await DeniedCalls.RunCliAsync("seccomp_listener=EINVAL", "run", "--result", "-", "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("seccomp user notification", r.ToolLines[0]);
        Assert.Contains("see 'sandbox2 doctor'", r.ToolLines[0]);
        Assert.DoesNotContain("--isolation", r.ToolLines[0]); // no-namespaces needs it too
        using var doc = JsonDocument.Parse(r.Stderr[r.Stderr.IndexOf('{', StringComparison.Ordinal)..]);
        Assert.Equal("FAILED_POLICY", doc.RootElement.GetProperty("reasonCode").GetString());
    }

    [Fact]
    public async Task NoNamespacesWithoutLandlockFailsClosed()
    {
        var r = await DeniedCalls.RunCliAsync("landlock=ENOSYS", "run", "--isolation", "no-namespaces", "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("Landlock", r.ToolLines[0]);
        Assert.Contains("see 'sandbox2 doctor'", r.ToolLines[0]);
    }

    [Theory]
    [InlineData(KernelFeature.UserNamespaces, 1, true)]
    [InlineData(KernelFeature.UserNamespaces, 28, true)]
    [InlineData(KernelFeature.UserNamespaces, 38, true)]
    [InlineData(KernelFeature.SeccompUserNotification, 22, true)]
    [InlineData(KernelFeature.SeccompTsync, 22, true)]
    [InlineData(KernelFeature.Landlock, 95, true)]
    [InlineData(KernelFeature.MountNamespaces, 2, false)]
    [InlineData(KernelFeature.None, 38, false)]
    [InlineData(KernelFeature.Seccomp, 14, false)]
    public void MissingIsDecidedFromTheErrno(KernelFeature feature, int errno, bool missing) =>
        Assert.Equal(missing, KernelFeatures.IsMissing(feature, errno));

    [Fact]
    public void TheLibraryReasonNamesTheFeatureAndDoctor()
    {
        var result = SandboxOutcome.FromFailure(SetupFailure.FromNative(SetupStep.Clone, 1, "clone"));
        Assert.Equal(SandboxStatus.SetupError, result.Status);
        Assert.Equal(ReasonCode.FailedNamespaces, result.ReasonCode);
        Assert.True(result.FeatureMissing);
        Assert.Contains("user namespaces", result.Reason);
        Assert.Contains("sandbox2 doctor", result.Reason);
        Assert.Contains("DisableNamespaces()", result.Reason);
        var other = SandboxOutcome.FromFailure(SetupFailure.FromNative(SetupStep.Bind, 2, "/x -> /y"));
        Assert.False(other.FeatureMissing);
        Assert.DoesNotContain("doctor", other.Reason);
    }
}
