using Sandbox2.Bpf;

namespace Sandbox2;

/// <summary>How a policy is compiled for one sandbox.</summary>
/// <param name="MonitorAttached">Violations go to SECCOMP_RET_USER_NOTIF (a monitor listens) instead of SECCOMP_RET_KILL_PROCESS.</param>
/// <param name="ExecNonce">When set (sandbox-before-exec): the always-on prologue allows execveat and sendmsg whose
/// sixth argument (args[5], all 64 bits) equals this per-sandbox random value, and nothing else extra.
/// The native stage uses it for its single execveat (and to hand the notify listener to the monitor).</param>
public readonly record struct PolicyCompileOptions(bool MonitorAttached = false, ulong? ExecNonce = null);

// STUB (owned by the policy-core work). Policy.Namespace.cs adds the namespace part.
/// <summary>A built, validated policy: syscall rules plus the sandbox's namespace (mounts, hostname, network).</summary>
public sealed partial class Policy
{
    /// <summary>Compiles the policy (always-on rules + user rules) to seccomp-bpf.</summary>
    public BpfProgram Compile(PolicyCompileOptions options) => throw new NotImplementedException();
}
