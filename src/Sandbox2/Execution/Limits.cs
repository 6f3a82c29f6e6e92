namespace Sandbox2;

/// <summary>Resource limits of a sandboxee, with Sandbox2's defaults. Applied with setrlimit in the sandboxee
/// right before exec (hard = soft), except <see cref="WallTime"/>, which the executor enforces.</summary>
public sealed partial class Limits
{
    /// <summary>RLIMIT_AS in bytes; null = unlimited. (A JIT .NET sandboxee needs ~1.3 GiB, NativeAOT ~130 MiB.)</summary>
    public ulong? AddressSpace { get; set; }
    /// <summary>RLIMIT_CPU (whole seconds, rounded up); null = unlimited. Exceeding it kills with SIGXCPU/SIGKILL → SIGNALED.</summary>
    public TimeSpan? CpuTime { get; set; } = TimeSpan.FromSeconds(1024);
    /// <summary>RLIMIT_FSIZE in bytes; null = unlimited. Writing past it raises SIGXFSZ.</summary>
    public ulong? FileSize { get; set; } = 8UL << 30;
    /// <summary>RLIMIT_NOFILE.</summary>
    public ulong OpenFiles { get; set; } = 1024;
    /// <summary>RLIMIT_CORE in bytes (0: no core dumps).</summary>
    public ulong CoreSize { get; set; }
    /// <summary>Wall-clock limit; null = none. Then the sandbox is killed with status TIMEOUT.</summary>
    public TimeSpan? WallTime { get; set; } = TimeSpan.FromSeconds(120);

    private const int RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_CORE = 4, RLIMIT_NOFILE = 7, RLIMIT_AS = 9;
    private const ulong Infinity = ulong.MaxValue;

    internal IReadOnlyList<RlimitOp> ToRlimitOps()
    {
        if (CpuTime is { } cpu && cpu <= TimeSpan.Zero) throw new ArgumentException($"CPU time limit must be positive, not {cpu}");
        if (WallTime is { } wall && wall <= TimeSpan.Zero) throw new ArgumentException($"wall time limit must be positive, not {wall}");
        if (OpenFiles == 0) throw new ArgumentException("open files limit must be at least 1");
        if (CheckOpenFiles(OpenFiles) is { } tooMany) throw new ArgumentException(tooMany);
        if (WallTime is { } longWall && longWall > MaxWallTime) throw new ArgumentException(WallTimeTooLong(longWall));
        ulong cpuSeconds = CpuTime is { } c ? (ulong)Math.Ceiling(c.TotalSeconds) : Infinity;
        return
        [
            new(RLIMIT_AS, AddressSpace ?? Infinity, AddressSpace ?? Infinity),
            // Soft CPU limit sends SIGXCPU; the hard limit one second later SIGKILLs a process that ignores it.
            new(RLIMIT_CPU, cpuSeconds, cpuSeconds == Infinity ? Infinity : cpuSeconds + 1),
            new(RLIMIT_FSIZE, FileSize ?? Infinity, FileSize ?? Infinity),
            new(RLIMIT_NOFILE, OpenFiles, OpenFiles),
            new(RLIMIT_CORE, CoreSize, CoreSize),
        ];
    }
}
