namespace Sandbox2.Diagnostics;

/// <summary>Calls newer than the oldest supported kernel that have a fallback: clone3, openat2, mount_setattr, close_range.</summary>
internal sealed class SyscallFallbackCheck : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        foreach (var (probe, key, feature) in new[]
        {
            ("pidfd", "clone3", KernelFeature.Clone3), ("calls", "openat2", KernelFeature.Openat2),
            ("calls", "mount_setattr_call", KernelFeature.MountSetattr), ("calls", "close_range", KernelFeature.CloseRange),
        })
        {
            var info = KernelFeatures.Describe(feature);
            int e = probes.Errno(probe, key);
            yield return e == 0
                ? new CheckResult(info.Name, CheckState.Ok, $"works ({info.Since})")
                : new CheckResult(info.Name, CheckState.Fallback, $"failed: {Doctor.ErrnoName(e)} ({info.Since}); {info.Fix}");
        }
    }
}
