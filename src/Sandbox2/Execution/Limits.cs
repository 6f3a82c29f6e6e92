namespace Sandbox2;

/// <summary>Resource limits of a sandboxee, with Sandbox2's defaults plus a cap on processes. Per-process limits are
/// applied with setrlimit in the sandboxee right before exec (hard = soft); <see cref="Memory"/>, <see cref="Processes"/>
/// and <see cref="CpuTime"/> bound the whole sandbox through its cgroup where one is available (the result's
/// <see cref="SandboxIsolation.Cgroup"/> says), else per process through rlimits; <see cref="WallTime"/> and
/// <see cref="OutputSize"/> are enforced by the executor.</summary>
public sealed partial class Limits
{
    /// <summary>RLIMIT_AS in bytes; null = unlimited. (A JIT .NET sandboxee needs ~1.3 GiB, NativeAOT ~130 MiB.)</summary>
    public ulong? AddressSpace { get; set; }
    /// <summary>Memory of the whole sandbox, all its processes together, in bytes: the memory cgroup's limit with swap
    /// off (v2 <c>memory.max</c> + <c>memory.swap.max</c> 0; v1 <c>memory.limit_in_bytes</c> + memsw). Going over it is
    /// SIGNALED with reason code OOM and <see cref="SandboxResult.Oom"/>. Without a memory cgroup it is RLIMIT_AS per
    /// process (unless <see cref="AddressSpace"/> is set). null = none (Sandbox2's default; the CLI's is half the host's memory).</summary>
    public ulong? Memory { get; set; }
    /// <summary>Most processes and threads at once, all of the sandbox together (the pids cgroup's <c>pids.max</c>;
    /// init is not counted). Without a pids cgroup it is RLIMIT_NPROC, which the kernel counts per user in the
    /// sandbox's own user namespace (uid 1000 there): the same bound for a sandbox with namespaces, but per host uid
    /// without them. null = none. Default 1,024 (a fork bomb stops there).</summary>
    public int? Processes { get; set; } = 1024;
    /// <summary>Put the sandbox in a cgroup of its own where the host allows one (default): whole-sandbox memory,
    /// process and CPU limits, usage of every process, OOM verdicts. false = rlimits only (<see cref="SandboxIsolation.Cgroup"/> null).</summary>
    public bool UseCgroup { get; set; } = true;
    /// <summary>Most bytes the program may write to its standard output and error together (when they are the
    /// executor's, i.e. <see cref="Executor.Stdout"/>/<see cref="Executor.Stderr"/> or its own fds): the executor pumps them
    /// through pipes, delivers exactly the first OutputSize bytes, then stops the sandbox (SIGNALED, reason code
    /// OUTPUT_LIMIT). null = no limit and no pump (the program writes to the destination directly).</summary>
    public ulong? OutputSize { get; set; }
    /// <summary>CPU time limit. With a cgroup, the CPU time of all processes of the sandbox together (cgroup
    /// <c>cpu.stat</c>, checked by the executor; then TIMEOUT with reason code CPU_LIMIT); always also RLIMIT_CPU per
    /// process (whole seconds, rounded up; exceeding it kills that process with SIGXCPU/SIGKILL). null = unlimited.</summary>
    public TimeSpan? CpuTime { get; set; } = TimeSpan.FromSeconds(1024);
    /// <summary>RLIMIT_FSIZE in bytes; null = unlimited. Writing past it raises SIGXFSZ.</summary>
    public ulong? FileSize { get; set; } = 8UL << 30;
    /// <summary>RLIMIT_NOFILE.</summary>
    public ulong OpenFiles { get; set; } = 1024;
    /// <summary>RLIMIT_CORE in bytes (0: no core dumps).</summary>
    public ulong CoreSize { get; set; }
    /// <summary>Wall-clock limit; null = none. Then the sandbox is killed with status TIMEOUT.</summary>
    public TimeSpan? WallTime { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>How much lower the sandboxee's CPU priority is than the executor's: its niceness is the executor's plus
    /// this (at most 19; set with setpriority in the sandboxee before exec, which any process may do). A sandbox that keeps
    /// every CPU busy then cannot delay the executor's own threads (its wall-time verdict, its kill). 0 or null = the
    /// executor's priority. Default 10. (Not in Sandbox2, which relies on its ptrace monitor's own thread.)</summary>
    public int? NiceIncrement { get; set; } = 10;

    /// <summary>The sandboxee's niceness for the plan, or null to inherit the executor's.</summary>
    internal int? SandboxeeNice()
    {
        if (NiceIncrement is not { } inc || inc == 0) return null;
        if (inc is < 0 or > 39) throw new ArgumentException($"nice increment must be 0..39, not {inc}");
        return Math.Min(19, Interop.GetNice() + inc);
    }

    private const int RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_CORE = 4, RLIMIT_NPROC = 6, RLIMIT_NOFILE = 7, RLIMIT_AS = 9;
    private const ulong Infinity = ulong.MaxValue;

    /// <summary>Half of the host's memory (MemTotal), the CLI's default for <see cref="Memory"/> (CONTRACT.md).</summary>
    public static ulong HalfOfHostMemory() => CgroupLayout.HalfOfHostMemory();

    /// <summary>The rlimits: memory and processes only where the cgroup does not bound them.</summary>
    internal IReadOnlyList<RlimitOp> ToRlimitOps(Cgroup? cgroup = null)
    {
        if (Memory is 0) throw new ArgumentException("memory limit must be larger than 0");
        if (Processes is { } p && p <= 0) throw new ArgumentException($"process limit must be at least 1, not {p}");
        if (OutputSize is 0) throw new ArgumentException("output limit must be larger than 0");
        ulong addressSpace = AddressSpace ?? (cgroup is { LimitsMemory: true } ? Infinity : Memory ?? Infinity);
        // RLIMIT_NPROC counts init too (uid 1000 in the sandbox's user namespace, like the program); it cannot be raised
        // above the executor's own hard limit, so it is left alone when the cgroup bounds processes.
        bool nproc = cgroup is not { LimitsProcesses: true } && Processes is not null;
        ulong nprocValue = nproc ? Math.Min((ulong)Processes!.Value + 1, Interop.GetRlimitHard(RLIMIT_NPROC)) : 0;
        if (CpuTime is { } cpu && cpu <= TimeSpan.Zero) throw new ArgumentException($"CPU time limit must be positive, not {cpu}");
        if (WallTime is { } wall && wall <= TimeSpan.Zero) throw new ArgumentException($"wall time limit must be positive, not {wall}");
        if (OpenFiles == 0) throw new ArgumentException("open files limit must be at least 1");
        if (CheckOpenFiles(OpenFiles) is { } tooMany) throw new ArgumentException(tooMany);
        if (WallTime is { } longWall && longWall > MaxWallTime) throw new ArgumentException(WallTimeTooLong(longWall));
        ulong cpuSeconds = CpuTime is { } c ? (ulong)Math.Ceiling(c.TotalSeconds) : Infinity;
        return
        [
            new(RLIMIT_AS, addressSpace, addressSpace),
            // Soft CPU limit sends SIGXCPU; the hard limit one second later SIGKILLs a process that ignores it.
            new(RLIMIT_CPU, cpuSeconds, cpuSeconds == Infinity ? Infinity : cpuSeconds + 1),
            new(RLIMIT_FSIZE, FileSize ?? Infinity, FileSize ?? Infinity),
            new(RLIMIT_NOFILE, OpenFiles, OpenFiles),
            new(RLIMIT_CORE, CoreSize, CoreSize),
            .. (nproc ? [new RlimitOp(RLIMIT_NPROC, nprocValue, nprocValue)] : Array.Empty<RlimitOp>()),
        ];
    }
}
