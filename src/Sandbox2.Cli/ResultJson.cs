using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandbox2.Cli;

/// <summary>The <c>--result</c> document, field for field as CONTRACT.md shows it. Absent parts are written as null.</summary>
internal sealed class ResultJson
{
    public required string Status { get; init; }
    public string? ReasonCode { get; init; }
    public required string Reason { get; init; }
    public int? ExitCode { get; init; }
    public int? Signal { get; init; }
    public ViolationJson? Violation { get; init; }
    public IReadOnlyList<string>? StackTrace { get; init; }
    public bool Oom { get; init; }
    public required UsageJson Usage { get; init; }
    public IsolationJson Isolation { get; init; } = new();

    public static ResultJson From(SandboxResult result) => new()
    {
        Status = StatusName(result.Status),
        ReasonCode = result.ReasonCode?.ToContractName(),
        Reason = OneLine(result.Reason),
        ExitCode = result.Status == SandboxStatus.Ok ? result.ExitCode : null,
        Signal = result.Signal,
        Violation = result.Violation is { } v ? new ViolationJson
        {
            Syscall = v.SyscallName,
            Number = v.Number,
            Arch = ArchName(v.Arch),
            Args = [.. v.Args],
            Pid = v.Pid,
            Description = v.Description,
        } : null,
        StackTrace = result.StackTrace,
        Oom = result.Oom,
        Usage = new UsageJson
        {
            WallTimeMs = Milliseconds(result.Usage.WallTime),
            CpuTimeMs = Milliseconds(result.Usage.CpuTime),
            MaxRssKb = result.Usage.MaxRssKb,
            MemoryPeakKb = result.Usage.MemoryPeakKb,
            Processes = result.Usage.Processes,
        },
        Isolation = new IsolationJson
        {
            Level = result.Isolation.Level == IsolationLevel.NoNamespaces ? "no-namespaces" : "namespaces",
            Seccomp = result.Isolation.Seccomp,
            Cgroup = result.Isolation.Cgroup switch { CgroupVersion.V2 => "v2", CgroupVersion.V1 => "v1", _ => null },
            Landlock = result.Isolation.LandlockAbi,
        },
    };

    /// <summary>A result for a sandbox that never started (the CLI failed to set it up).</summary>
    public static ResultJson SetupError(string reason, ReasonCode code = Sandbox2.ReasonCode.FailedConfig) => new()
    {
        Status = StatusName(SandboxStatus.SetupError),
        ReasonCode = code.ToContractName(),
        Reason = OneLine(reason),
        Usage = new UsageJson(),
    };

    public static string StatusName(SandboxStatus status) => status.ToContractName();

    public static string ArchName(SyscallArch arch) => arch.ToContractName();

    private static double Milliseconds(TimeSpan t) => Math.Round(t.TotalMilliseconds, 3);

    internal static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>The document as indented JSON text, with a final newline.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Context.ResultJson) + "\n";

    // Written to a file or a terminal, not into HTML: keep '+', '<', quotes in stack frames and reasons readable.
    private static readonly ResultJsonContext Context = new(new JsonSerializerOptions(ResultJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

internal sealed class ViolationJson
{
    public required string Syscall { get; init; }
    public int Number { get; init; }
    public required string Arch { get; init; }
    public required ulong[] Args { get; init; }
    public int Pid { get; init; }
    public required string Description { get; init; }
}


internal sealed class UsageJson
{
    public double WallTimeMs { get; init; }
    public double CpuTimeMs { get; init; }
    public long MaxRssKb { get; init; }
    public long MemoryPeakKb { get; init; }
    public int Processes { get; init; }
}

/// <summary>What isolation held (CONTRACT.md's <c>isolation</c> object): <c>level</c> "namespaces" | "no-namespaces",
/// <c>seccomp</c>, <c>cgroup</c> "v2" | "v1" | null (rlimits only), <c>landlock</c> the enforced ABI or null.</summary>
internal sealed class IsolationJson
{
    public string Level { get; init; } = "namespaces";
    public bool Seccomp { get; init; } = true;
    public string? Cgroup { get; init; }
    public int? Landlock { get; init; }
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) serialization of <see cref="ResultJson"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    WriteIndented = true)]
[JsonSerializable(typeof(ResultJson))]
internal sealed partial class ResultJsonContext : JsonSerializerContext;
