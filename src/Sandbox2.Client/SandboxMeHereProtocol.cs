namespace Sandbox2.Client;

/// <summary>
/// The SandboxMeHere handshake over Comms (protocol version 1), spoken by
/// <see cref="SandboxClient.SandboxMeHere"/>, by the C client (<c>clients/c</c>) and, on the
/// executor side, by <c>Sandbox2.ClientHandshake</c>. It runs before any other traffic on the channel.
/// <code>
/// client -> executor  Version  uint32 1
/// executor -> client  Version  uint32 1
/// executor -> client  Uint32   N                 number of mapped descriptors (at most 1024)
///                     N x { Int32 target fd (-1: by name only), String name ("" allowed with a target), Fd }
/// executor -> client  String   cwd               "" = keep the current directory
/// executor -> client  Bytes    BPF program       struct sock_filter[] (8 bytes each, 1..4096 instructions)
/// executor -> client  Uint32   mode              ModeUnotify or ModePlain [| SpeculationBit]; any other flag bit is refused
/// client: dup3 each fd onto its target, chdir(cwd), PR_SET_NO_NEW_PRIVS,
///         seccomp(SECCOMP_SET_MODE_FILTER, TSYNC [| NEW_LISTENER | TSYNC_ESRCH] [| SPEC_ALLOW with SpeculationBit])
/// success: client -> executor  Bool true, [Fd listener (ModeUnotify only)], Uint32 ClientReady
/// failure: client -> executor  Bool false, String reason (one line), then the client throws (C#) or aborts (C)
/// </code>
/// After the filter is installed the client only uses sendmsg (on the Comms descriptor) and close; the
/// Sandbox2 executor compiles the policy with <c>PolicyCompileOptions.CommsFd</c>, which allows both after
/// the user's rules (and refuses a policy whose own rules forbid them), so they never reach the
/// user-notification listener before the executor holds it.
/// </summary>
public static class SandboxMeHereProtocol
{
    /// <summary>The protocol version both sides send first.</summary>
    public const uint Version = 1;
    /// <summary>Last word of a successful handshake (Sandbox2's kClient2SandboxReady).</summary>
    public const uint ClientReady = 0x0A0B0C01;
    /// <summary>Install with SECCOMP_FILTER_FLAG_NEW_LISTENER and send the listener (Sandbox2's kSandbox2ClientUnotify).</summary>
    public const uint ModeUnotify = 0x0A0B0C03;
    /// <summary>Install the filter only.</summary>
    public const uint ModePlain = 0x0A0B0C04;
    /// <summary>The bits of the mode word that carry the mode (the rest are flags).</summary>
    public const uint ModeMask = 0x0FFFFFFF;
    /// <summary>Flag in the mode word: the policy allows speculation (<c>AllowSeccompSpeculation()</c>, Sandbox2's
    /// <c>Allow(SeccompSpeculation())</c>), so the client installs the filter with SECCOMP_FILTER_FLAG_SPEC_ALLOW and the kernel
    /// does not force-disable speculative store bypass (where its mitigation mode is <c>seccomp</c>). Without it the flag is
    /// not passed.</summary>
    public const uint SpeculationBit = 0x10000000;
    /// <summary>The most descriptors the executor may map.</summary>
    public const int MaxMappedFds = 1024;
    /// <summary>Target number meaning "by name only": the client keeps the received descriptor number.</summary>
    public const int NoTarget = -1;
    /// <summary>The most BPF instructions a filter may have (the kernel's BPF_MAXINSNS).</summary>
    public const int MaxBpfInstructions = Interop.BpfMaxInstructions;
}
