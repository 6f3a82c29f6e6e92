namespace Sandbox2;

/// <summary>
/// Why a sandbox ended the way it did, beyond its <see cref="SandboxStatus"/> (Sandbox2's <c>Result::ReasonCode</c>).
/// The contract's spelling (<c>FAILED_POLICY</c>, <c>VIOLATION_SYSCALL</c>, ...) is <see cref="ReasonCodes.ToContractName"/>.
/// </summary>
public enum ReasonCode
{
    // Setup / internal failures (Sandbox2's FAILED_*).
    /// <summary>The sandbox's configuration is invalid (bad working directory, environment, fd mapping).</summary>
    FailedConfig,
    /// <summary>The policy could not be compiled or installed (including no_new_privs and the seccomp filter).</summary>
    FailedPolicy,
    /// <summary>Namespaces, identity mapping, hostname, mount tree, capabilities.</summary>
    FailedNamespaces,
    /// <summary>Resource limits (setrlimit).</summary>
    FailedLimits,
    /// <summary>The working directory inside the sandbox.</summary>
    FailedCwd,
    /// <summary>Starting a process: the forkserver, clone, fork, exec.</summary>
    FailedSubprocess,
    /// <summary>Descriptor setup for the sandboxee (dup, close_range).</summary>
    FailedIpc,
    /// <summary>The monitor could not be attached (the seccomp listener was not received or registered).</summary>
    FailedMonitor,
    /// <summary>A Comms exchange with the sandboxee failed.</summary>
    FailedComms,
    /// <summary>A <see cref="Notify"/> hook refused the sandbox.</summary>
    FailedNotify,
    /// <summary>Waiting for the sandbox failed (it ended without an exit status).</summary>
    FailedWait,
    /// <summary>The SandboxMeHere handshake failed (the client refused, or the program closed its channel).</summary>
    FailedSandboxMeHere,
    /// <summary>The host ran out of a resource the executor needs for one more sandbox (descriptors, memory maps, pids).</summary>
    FailedResources,
    /// <summary>The program does not exist on the host.</summary>
    ProgramNotFound,
    /// <summary>The program exists but cannot be executed.</summary>
    ProgramNotExecutable,

    // Violations.
    /// <summary>A syscall the policy does not allow.</summary>
    ViolationSyscall,
    /// <summary>A syscall of another architecture (x86-32 <c>int 0x80</c>, x32).</summary>
    ViolationArch,
    /// <summary>A connection to an endpoint the network policy does not allow.</summary>
    ViolationNetwork,

    // Limits (the contract's additions to Sandbox2's codes).
    /// <summary>The memory cgroup killed the program.</summary>
    Oom,
    /// <summary>The program wrote more than its output limit.</summary>
    OutputLimit,
    /// <summary>The CPU-time limit ran out.</summary>
    CpuLimit,
    /// <summary>The wall-time limit ran out.</summary>
    WallTime,
}

/// <summary>Spelling of <see cref="ReasonCode"/> values.</summary>
public static class ReasonCodes
{
    private static readonly string[] Names = BuildNames();

    /// <summary>The contract's (and Sandbox2's) name: <c>FailedPolicy</c> → <c>FAILED_POLICY</c>.</summary>
    public static string ToContractName(this ReasonCode code) =>
        (uint)code < (uint)Names.Length ? Names[(int)code] : code.ToString();

    private static string[] BuildNames()
    {
        var values = Enum.GetValues<ReasonCode>();
        var names = new string[values.Length];
        foreach (var v in values) names[(int)v] = Snake(v.ToString());
        return names;
    }

    private static string Snake(string pascal)
    {
        var b = new System.Text.StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (i > 0 && char.IsUpper(pascal[i])) b.Append('_');
            b.Append(char.ToUpperInvariant(pascal[i]));
        }
        return b.ToString();
    }
}
