namespace Sandbox2.Diagnostics;

/// <summary>IA-32 emulation: whether a 32-bit syscall (int 0x80) reaches the kernel at all. Either way such a call is a
/// violation in every policy; without the emulation it cannot even be made.</summary>
internal sealed class Ia32Check : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        int e = probes.Errno("ia32", "int80");
        string d = probes.Detail("ia32", "int80");
        yield return new CheckResult("IA-32 emulation", CheckState.Info, e == 0
            ? "32-bit syscalls (int 0x80) reach the kernel; the always-on rules make them violations"
            : $"32-bit syscalls do not reach the kernel ({d}): nothing to filter (the always-on rules still cover them)");
    }
}
