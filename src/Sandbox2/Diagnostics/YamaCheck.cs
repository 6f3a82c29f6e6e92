namespace Sandbox2.Diagnostics;

/// <summary>Yama's ptrace scope: stack traces (--stack-trace) attach to the sandboxee with ptrace.</summary>
internal sealed class YamaCheck : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        string? scope = Doctor.ReadFile("/proc/sys/kernel/yama/ptrace_scope");
        bool root = Interop.GetEUid() == 0;
        yield return scope switch
        {
            null => new CheckResult("Yama ptrace scope", CheckState.Ok, "Yama is not active: ptrace follows the usual permission checks"),
            "0" or "1" => new CheckResult("Yama ptrace scope", CheckState.Ok, $"= {scope}: the executor owns the sandbox's user namespace, so it may attach for stack traces"),
            "2" when root => new CheckResult("Yama ptrace scope", CheckState.Ok, "= 2: attaching needs CAP_SYS_PTRACE, which this (root) executor has"),
            _ => new CheckResult("Yama ptrace scope", CheckState.Fallback, $"= {scope}: this executor may not attach", "stack traces (--stack-trace): the result says why there is none",
                scope == "3" ? "kernel.yama.ptrace_scope=3 cannot be lowered without a reboot" : "sysctl -w kernel.yama.ptrace_scope=1, or run the executor with CAP_SYS_PTRACE"),
        };
    }
}
