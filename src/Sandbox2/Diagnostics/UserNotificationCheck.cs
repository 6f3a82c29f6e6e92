namespace Sandbox2.Diagnostics;

/// <summary>seccomp user notification: a listener, a notification answered with FLAG_CONTINUE, and ADDFD.</summary>
internal sealed class UserNotificationCheck : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        int listener = probes.Errno("notify", "listener");
        var info = KernelFeatures.Describe(KernelFeature.SeccompUserNotification);
        if (listener != 0)
        {
            yield return new CheckResult("seccomp user notification", CheckState.Missing,
                $"seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER) failed: {Doctor.ErrnoName(listener)} ({info.Since})",
                "every sandbox: violations are reported through the listener (the monitor)", info.Fix, Required: true);
            yield break;
        }
        yield return new CheckResult("seccomp user notification", CheckState.Ok, "a listener receives and answers notifications", Required: true);
        int cont = probes.Errno("notify", "continue"), ran = probes.Errno("notify", "continue_ran");
        yield return cont == 0 && ran == 0
            ? new CheckResult("notification FLAG_CONTINUE", CheckState.Ok, "a notified call continues", Required: true)
            : new CheckResult("notification FLAG_CONTINUE", CheckState.Missing, $"SECCOMP_USER_NOTIF_FLAG_CONTINUE failed: {Doctor.ErrnoName(cont != 0 ? cont : ran)} (Linux 5.5)",
                "trace rules answered 'allow' and learn mode", "Linux 5.5 or newer", Required: true);
        int addfd = probes.Errno("notify", "addfd");
        yield return addfd == 0
            ? new CheckResult("notification ADDFD", CheckState.Ok, "SECCOMP_IOCTL_NOTIF_ADDFD works")
            : new CheckResult("notification ADDFD", CheckState.Fallback, $"SECCOMP_IOCTL_NOTIF_ADDFD failed: {Doctor.ErrnoName(addfd)} (Linux 5.9)",
                "nothing yet (reserved for answering calls with descriptors, e.g. a network proxy)", "Linux 5.9 or newer");
    }
}
