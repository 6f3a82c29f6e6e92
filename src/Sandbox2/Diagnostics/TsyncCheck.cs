namespace Sandbox2.Diagnostics;

/// <summary>SECCOMP_FILTER_FLAG_TSYNC (and TSYNC_ESRCH), tried on a process with a second thread.</summary>
internal sealed class TsyncCheck : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        int tsync = probes.Errno("tsync", "tsync"), esrch = probes.Errno("tsync", "tsync_esrch");
        var info = KernelFeatures.Describe(KernelFeature.SeccompTsync);
        if (tsync == 0 && esrch == 0)
            yield return new CheckResult("seccomp TSYNC", CheckState.Ok, "a filter installs on every thread (TSYNC, TSYNC_ESRCH)", Required: true);
        else
            yield return new CheckResult("seccomp TSYNC", CheckState.Missing,
                $"seccomp with {(tsync != 0 ? "TSYNC" : "TSYNC|TSYNC_ESRCH")} failed: {Doctor.ErrnoName(tsync != 0 ? tsync : esrch)} ({info.Since})",
                "--sandbox-after-start / SandboxMeHere in a multithreaded program (every .NET program): it refuses rather than filter one thread",
                info.Fix, Required: true);
    }
}
