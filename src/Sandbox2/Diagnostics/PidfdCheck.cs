namespace Sandbox2.Diagnostics;

/// <summary>pidfd: pidfd_open, a pidfd from clone, pidfd_send_signal, waitid(P_PIDFD).</summary>
internal sealed class PidfdCheck : DoctorCheck
{
    public const string Name = "pidfd";

    private static readonly string[] Calls = ["pidfd_open", "clone_pidfd", "pidfd_send_signal", "waitid_pidfd"];

    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        var failed = Calls
            .Where(k => probes.Errno("pidfd", k) != 0).Select(k => $"{k}: {Doctor.ErrnoName(probes.Errno("pidfd", k))}").ToList();
        yield return failed.Count == 0
            ? new CheckResult(Name, CheckState.Ok, "pidfd_open, CLONE_PIDFD, pidfd_send_signal, waitid(P_PIDFD) work", Required: true)
            : new CheckResult(Name, CheckState.Missing, string.Join(", ", failed) + " (Linux 5.4)",
                "every sandbox: processes are followed and killed through pidfds", "Linux 5.4 or newer", Required: true);
    }
}
