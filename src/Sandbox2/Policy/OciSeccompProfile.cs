using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandbox2;

/// <summary>How an OCI / Docker seccomp profile is imported.</summary>
/// <param name="FailOnUnknownNames">A syscall name no x86 ABI knows is an error instead of a warning.</param>
/// <param name="KernelVersion">The kernel version <c>minKernel</c> is compared with (null: the running kernel's).</param>
public sealed record OciImportOptions(bool FailOnUnknownNames = false, Version? KernelVersion = null);

/// <summary>An OCI runtime-spec / Docker seccomp profile (JSON: <c>defaultAction</c>, <c>defaultErrnoRet</c>,
/// <c>architectures</c> or <c>archMap</c>, <c>syscalls[]</c> with <c>names</c>, <c>action</c>, <c>errnoRet</c>, <c>args</c>,
/// <c>includes</c>/<c>excludes</c>), translated into PolicyBuilder rules for x86-64, with runc's semantics where the spec
/// leaves room, and every departure reported in <see cref="Warnings"/>:
/// <list type="bullet">
/// <item><c>SCMP_CMP_MASKED_EQ</c>: <c>value</c> is the mask, <c>valueTwo</c> the datum (absent = 0); all comparisons are on
/// the full 64 bits, as libseccomp makes them for x86-64.</item>
/// <item>Conditions on different arguments of one entry are ANDed; when one argument index appears more than once, every
/// condition of that entry becomes a rule of its own (ORed), as runc does — a warning says so.</item>
/// <item><c>includes</c>/<c>excludes</c>: capabilities count as none held (the sandbox holds none): an entry that needs a
/// capability is left out, an entry excluded by one stays; arches are matched against amd64; <c>minKernel</c> against
/// the running kernel (major.minor).</item>
/// <item><c>SCMP_ACT_KILL</c>, <c>KILL_THREAD</c> and <c>KILL_PROCESS</c> are violations (the sandbox is killed and the
/// result names the syscall); <c>TRAP</c> is a violation too, <c>TRACE</c> (no tracer) is ENOSYS, <c>LOG</c> allows;
/// <c>NOTIFY</c> is refused (it needs the profile's own listener).</item>
/// <item>A name no x86 ABI knows is reported (a warning, or an error with <see cref="OciImportOptions.FailOnUnknownNames"/>),
/// never silently dropped; names of 32-bit syscalls only are counted in <see cref="Notes"/> (x86-32 and x32 are always
/// violations here).</item>
/// <item>Syscalls newer than the highest-numbered one the profile names fail with ENOSYS (runc's stub), unless the default
/// action allows; <c>defaultErrnoRet</c> is the default action's errno (EPERM when absent), an entry's <c>errnoRet</c> its own.</item>
/// <item>ptrace and bpf are never allowed in a sandbox (an allow for them is left out, with a warning); the other always-on
/// rules hold too (clone with namespace flags, clone3 → ENOSYS, foreign ABIs).</item>
/// </list></summary>
public sealed class OciSeccompProfile
{
    private const int Eperm = 1, Enosys = 38;
    private const string NativeArch = "SCMP_ARCH_X86_64";

    private readonly List<(int Number, ArgCondition? When, SyscallAction Action, string Origin)> _rules = [];
    private readonly List<string> _warnings = [];
    private readonly List<string> _notes = [];

    private OciSeccompProfile(string source) => Source = source;

    /// <summary>Where the profile came from (a path, or a name such as <c>@docker</c>), used in messages.</summary>
    public string Source { get; }

    /// <summary>What the import changed or left out, one line each (<c>SOURCE: syscalls[i] (name): ...</c>).</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Facts about the import worth knowing but not a departure (32-bit-only names, architectures).</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>The default action (<c>defaultAction</c>, with <c>defaultErrnoRet</c>).</summary>
    public SyscallAction DefaultAction { get; private set; }

    /// <summary>The highest x86-64 syscall number the applied entries name; numbers above it get ENOSYS unless the default allows (null: none named).</summary>
    public int? HighestNamed { get; private set; }

    /// <summary>Whether the profile allows mmap/mprotect (in any form): then the W^X guard is off, as the profile says.</summary>
    public bool AllowsMapExec { get; private set; }

    /// <summary>The translated rules (x86-64 number, condition or null, action, origin), in the order they are applied.</summary>
    public IReadOnlyList<(int Number, ArgCondition? When, SyscallAction Action, string Origin)> Rules => _rules;

    private static readonly Lazy<OciSeccompProfile> Docker = new(() =>
    {
        using var stream = typeof(OciSeccompProfile).Assembly.GetManifestResourceStream("Sandbox2.Policy.docker-default.json")
            ?? throw new InvalidOperationException("the built-in Docker profile is missing from the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return Parse(reader.ReadToEnd(), "@docker");
    });

    /// <summary>Docker's default profile (moby/profiles <c>seccomp/default.json</c> at commit 02e898b137aed1024e232d59bcb05e6179b72177,
    /// embedded unchanged): the built-in <c>@docker</c> policy.</summary>
    public static OciSeccompProfile DockerDefault => Docker.Value;

    /// <summary>Whether <paramref name="path"/> names a JSON profile (the CLI's and the policy commands' rule: it ends in <c>.json</c>).</summary>
    public static bool IsProfilePath(string path) => path is not null && path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads and translates the profile at <paramref name="path"/> (at most 4 MiB). A malformed profile throws a
    /// <see cref="PolicyException"/> whose message starts with <c>PATH:LINE:COL:</c> where the JSON reader knows the place.</summary>
    public static OciSeccompProfile Load(string path, OciImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            if (!file.CanSeek || file.Length > MaxSize)
                throw new PolicyException($"{path}: not a regular file of at most {MaxSize} bytes");
            using var reader = new StreamReader(file, Encoding.UTF8);
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PolicyException($"{path}: cannot read the profile: {e.Message}", e);
        }
        return Parse(text, path, options);
    }

    /// <summary>The largest profile <see cref="Load"/> reads (Docker's is 17 KiB).</summary>
    public const int MaxSize = 4 << 20;

    /// <summary>Parses and translates a profile given as JSON text; <paramref name="source"/> names it in messages.</summary>
    public static OciSeccompProfile Parse(string json, string source = "profile.json", OciImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxSize) throw new PolicyException($"{source}: profile is larger than {MaxSize} bytes");
        OciProfileJson? doc;
        try
        {
            doc = JsonSerializer.Deserialize(json, OciSeccompJsonContext.Default.OciProfileJson);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $"{line + 1}:{(e.BytePositionInLine ?? 0) + 1}: " : "";
            throw new PolicyException($"{source}:{where}not a valid seccomp profile: {FirstSentence(e.Message)}", e);
        }
        if (doc is null) throw new PolicyException($"{source}: the profile is empty (null)");
        var profile = new OciSeccompProfile(source);
        profile.Translate(doc, options ?? new OciImportOptions());
        return profile;
    }

    /// <summary>Applies the profile to <paramref name="builder"/>: its rules, its default action, the ENOSYS answer above the
    /// highest syscall it names and, when it allows mmap/mprotect, Allow(MapExec).</summary>
    public PolicyBuilder ApplyTo(PolicyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var (number, when, action, origin) in _rules) builder.AddRule(number, when, action, origin);
        builder.DefaultAction(DefaultAction);
        if (HighestNamed is int highest && DefaultAction.Kind != SyscallActionKind.Allow)
            builder.DefaultActionAbove(highest, SyscallAction.Errno(Enosys));
        if (AllowsMapExec) builder.AllowMapExec();
        return builder;
    }

    // ---- translation ----

    private void Translate(OciProfileJson doc, OciImportOptions options)
    {
        ReportUnknownKeys(doc.Extra, "");
        if (doc.DefaultAction is null) throw Error("", "defaultAction is missing (it is required)");
        DefaultAction = Action(doc.DefaultAction, doc.DefaultErrnoRet ?? Eperm, "defaultAction");
        CheckArchitectures(doc);
        if (doc.ListenerPath is not null) Warn("", "listenerPath is ignored (the sandbox's own monitor handles notifications)");
        foreach (string flag in doc.Flags ?? [])
            if (flag != "SECCOMP_FILTER_FLAG_TSYNC") Warn("", $"flag {flag} is ignored");
        var kernel = options.KernelVersion ?? Environment.OSVersion.Version;
        var entries = doc.Syscalls ?? [];
        if (entries.Length > 100_000) throw Error("", $"{entries.Length} syscall entries is more than 100000");

        var unconditional = new Dictionary<int, (SyscallAction Action, string Origin)>();
        var conditional = new List<(int Number, ArgCondition When, SyscallAction Action, string Origin)>();
        var unknown = new List<string>();
        var only32 = new SortedSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i] ?? throw Error($"syscalls[{i}]", "entry is null");
            string at = $"syscalls[{i}]";
            ReportUnknownKeys(e.Extra, at + ".");
            ReportUnknownKeys(e.Includes?.Extra, at + ".includes.");
            ReportUnknownKeys(e.Excludes?.Extra, at + ".excludes.");
            var names = Names(e, at);
            if (!Applies(e, kernel, at)) continue;
            if (e.Action is null) throw Error(at, "action is missing (it is required)");
            var action = Action(e.Action, e.ErrnoRet ?? Eperm, at + ".action");
            var conditions = Conditions(e.Args ?? [], at, names);
            foreach (string name in names)
            {
                string origin = $"{Source}: {at} ({name})";
                if (SyscallTable.Find(name) is not { } info)
                {
                    if (SyscallTable.IsKnown32BitName(name)) only32.Add(name);
                    else if (!unknown.Contains(name)) unknown.Add(name);
                    continue;
                }
                int nr = info.Number;
                HighestNamed = Math.Max(HighestNamed ?? -1, nr);
                if (action.Kind == SyscallActionKind.Allow && name is "mmap" or "mprotect" or "pkey_mprotect") AllowsMapExec = true;
                if (nr is Policy.NrPtrace or Policy.NrBpf && (action.Kind != SyscallActionKind.Errno || conditions.Count > 0))
                {
                    if (action.Kind != SyscallActionKind.Violation)
                        Warn(at, $"{name} is never allowed in a sandbox: it stays a violation, whatever the profile says");
                    continue;
                }
                if (conditions.Count == 0)
                {
                    if (unconditional.TryGetValue(nr, out var first))
                    {
                        if (first.Action != action)
                            Warn(at, $"{name}: {first.Origin} already decides {first.Action} for every call; this entry's {action} is left out");
                        continue;
                    }
                    unconditional[nr] = (action, origin);
                }
                else
                {
                    foreach (var when in conditions) conditional.Add((nr, when, action, origin));
                }
            }
        }
        if (unknown.Count > 0)
        {
            string message = $"{unknown.Count} syscall name{(unknown.Count == 1 ? " is" : "s are")} not known on x86-64, x86-32 or x32 and match nothing: {string.Join(", ", unknown)}";
            if (options.FailOnUnknownNames) throw Error("", message);
            Warn("", message);
        }
        if (only32.Count > 0)
            _notes.Add($"{Source}: {only32.Count} names are 32-bit-only syscalls (x86-32 and x32 are always violations here): {string.Join(", ", only32)}");

        // libseccomp's semantics: an unconditional rule for a syscall makes its conditional rules moot.
        var mixed = new HashSet<int>();
        foreach (var group in conditional.GroupBy(c => c.Number))
        {
            if (unconditional.TryGetValue(group.Key, out var u))
            {
                if (group.Any(c => c.Action != u.Action))
                    Warn("", $"{SyscallTable.Find(group.Key)!.Name}: {u.Origin} decides {u.Action} for every call; its conditional entries are left out");
                continue;
            }
            if (group.Select(c => c.Action).Distinct().Count() > 1 && mixed.Add(group.Key))
                Warn("", $"{SyscallTable.Find(group.Key)!.Name}: conditional entries with different actions; where their conditions overlap, the first entry in the profile decides");
            foreach (var c in group) _rules.Add((c.Number, c.When, c.Action, c.Origin));
        }
        foreach (var (nr, (action, origin)) in unconditional.OrderBy(kv => kv.Key)) _rules.Add((nr, null, action, origin));
        if (DefaultAction.Kind == SyscallActionKind.Allow) AllowsMapExec = true;
    }

    private List<string> Names(OciSyscallJson e, string at)
    {
        if (e.Name is not null && e.Names is not null) throw Error(at, "name and names are mutually exclusive");
        var names = e.Names?.ToList() ?? (e.Name is null ? [] : [e.Name]);
        if (names.Count == 0) throw Error(at, "names is missing or empty (at least one syscall name is required)");
        foreach (string? n in names)
            if (string.IsNullOrWhiteSpace(n)) throw Error(at, "a syscall name is empty");
        return names;
    }

    /// <summary>includes/excludes, Docker's rules (seccomp_linux.go) with no capabilities held and amd64 as the architecture.</summary>
    private bool Applies(OciSyscallJson e, Version kernel, string at)
    {
        if (e.Excludes is { } ex)
        {
            if (ex.Arches is { } a && a.Any(IsNativeArchName)) return false;
            // caps: the sandbox holds none, so an exclusion by capability never applies.
            if (ex.MinKernel is { } k && KernelAtLeast(kernel, k, at)) return false;
        }
        if (e.Includes is { } inc)
        {
            if (inc.Arches is { Length: > 0 } a && !a.Any(IsNativeArchName)) return false;
            if (inc.Caps is { Length: > 0 }) return false;
            if (inc.MinKernel is { } k && !KernelAtLeast(kernel, k, at)) return false;
        }
        return true;
    }

    private static bool IsNativeArchName(string? arch) => arch is "amd64" or "x86_64" or "x86-64" or NativeArch;

    /// <summary>Docker compares "X.Y" only (suffixes ignored). A malformed version is an error in Docker; here it never matches.</summary>
    private bool KernelAtLeast(Version kernel, string minimum, string at)
    {
        var parts = minimum.Split('.', 3);
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int major)
            || !int.TryParse(new string(parts[1].TakeWhile(char.IsAsciiDigit).ToArray()), NumberStyles.None, CultureInfo.InvariantCulture, out int minor))
            throw Error(at, $"minKernel '{minimum}' is not a kernel version such as 5.8");
        return kernel.Major > major || kernel.Major == major && kernel.Minor >= minor;
    }

    private List<ArgCondition> Conditions(OciArgJson?[] args, string at, List<string> names)
    {
        if (args.Length == 0) return [];
        if (args.Length > 64) throw Error(at, $"{args.Length} argument conditions is more than 64");
        var list = new List<ArgCondition>();
        var counts = new int[6];
        for (int j = 0; j < args.Length; j++)
        {
            var a = args[j] ?? throw Error($"{at}.args[{j}]", "condition is null");
            if (a.Index is not uint index) throw Error($"{at}.args[{j}]", "index is missing (it is required)");
            if (index > 5) throw Error($"{at}.args[{j}]", $"index {index} is out of range 0..5");
            if (a.Value is not ulong value) throw Error($"{at}.args[{j}]", "value is missing (it is required)");
            if (a.Op is null) throw Error($"{at}.args[{j}]", "op is missing (it is required)");
            counts[index]++;
            var arg = Arg.Of((int)index);
            list.Add(a.Op switch
            {
                "SCMP_CMP_EQ" => arg.Equal(value),
                "SCMP_CMP_NE" => arg.NotEqual(value),
                "SCMP_CMP_LT" => arg.Less(value),
                "SCMP_CMP_LE" => arg.LessOrEqual(value),
                "SCMP_CMP_GT" => arg.Greater(value),
                "SCMP_CMP_GE" => arg.GreaterOrEqual(value),
                // value is the mask, valueTwo the datum (absent = 0)
                "SCMP_CMP_MASKED_EQ" => arg.MaskedEqual(value, a.ValueTwo ?? 0),
                _ => throw Error($"{at}.args[{j}]", $"unknown op '{a.Op}' (known: SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)"),
            });
        }
        if (counts.Any(c => c > 1))
        {
            Warn(at, $"{string.Join(", ", names)}: argument {Array.FindIndex(counts, c => c > 1)} has more than one condition: as runc does, "
                + "each condition of this entry becomes a rule of its own (they are ORed, not ANDed)");
            return list;
        }
        return [ArgCondition.All(list.ToArray())];
    }

    private SyscallAction Action(string action, uint errno, string at)
    {
        SyscallAction Errno(uint n) =>
            n <= SyscallAction.MaxErrno ? SyscallAction.Errno((int)n) : throw Error(at, $"errno {n} is out of range 0..{SyscallAction.MaxErrno}");
        switch (action)
        {
            case "SCMP_ACT_ALLOW": return SyscallAction.Allow;
            case "SCMP_ACT_ERRNO": return Errno(errno);
            case "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" or "SCMP_ACT_KILL_PROCESS": return SyscallAction.Violation;
            case "SCMP_ACT_TRAP":
                Warn(at, "SCMP_ACT_TRAP is a violation here (the sandbox is killed and reports the syscall; no SIGSYS to the program)");
                return SyscallAction.Violation;
            case "SCMP_ACT_TRACE":
                Warn(at, "SCMP_ACT_TRACE: there is no ptrace tracer in a sandbox, so the syscall fails with ENOSYS, as the kernel does without one");
                return SyscallAction.Errno(Enosys);
            case "SCMP_ACT_LOG":
                Warn(at, "SCMP_ACT_LOG allows the syscall (it is not logged)");
                return SyscallAction.Allow;
            case "SCMP_ACT_NOTIFY":
                throw Error(at, "SCMP_ACT_NOTIFY needs the profile's own notification listener (listenerPath), which a sandbox does not use");
            default:
                throw Error(at, $"unknown action '{action}' (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)");
        }
    }

    private void CheckArchitectures(OciProfileJson doc)
    {
        if (doc.Architectures is not null && doc.ArchMap is not null)
            throw Error("", "architectures and archMap are mutually exclusive");
        var arches = doc.Architectures?.ToList()
            ?? doc.ArchMap?.Where(m => m?.Architecture == NativeArch).SelectMany(m => new[] { m!.Architecture! }.Concat(m.SubArchitectures ?? [])).ToList()
            ?? [];
        foreach (string? a in arches)
            if (a is null || !a.StartsWith("SCMP_ARCH_", StringComparison.Ordinal)) throw Error("", $"'{a}' is not an architecture (SCMP_ARCH_...)");
        var foreign = arches.Where(a => a != NativeArch).ToList();
        if (arches.Count > 0 && !arches.Contains(NativeArch))
            _notes.Add($"{Source}: the profile does not list SCMP_ARCH_X86_64; it is applied to x86-64 (the native architecture, which libseccomp always includes)");
        if (foreign.Count > 0)
            _notes.Add($"{Source}: {string.Join(", ", foreign)} {(foreign.Count == 1 ? "is" : "are")} listed: syscalls of other ABIs are always violations here");
    }

    private void ReportUnknownKeys(Dictionary<string, JsonElement>? extra, string prefix)
    {
        if (extra is { Count: > 0 })
            Warn("", $"unknown key{(extra.Count == 1 ? "" : "s")} ignored: {string.Join(", ", extra.Keys.Select(k => prefix + k))}");
    }

    private void Warn(string at, string message) => _warnings.Add(at.Length == 0 ? $"{Source}: {message}" : $"{Source}: {at}: {message}");

    private PolicyException Error(string at, string message) => new(at.Length == 0 ? $"{Source}: {message}" : $"{Source}: {at}: {message}");

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }
}

// ---- the JSON shape (source-generated, NativeAOT-safe) ----

internal sealed class OciProfileJson
{
    public string? DefaultAction { get; set; }
    public uint? DefaultErrnoRet { get; set; }
    public string[]? Architectures { get; set; }
    public OciArchMapJson?[]? ArchMap { get; set; }
    public string[]? Flags { get; set; }
    public string? ListenerPath { get; set; }
    public string? ListenerMetadata { get; set; }
    public OciSyscallJson?[]? Syscalls { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

internal sealed class OciArchMapJson
{
    public string? Architecture { get; set; }
    public string[]? SubArchitectures { get; set; }
}

internal sealed class OciSyscallJson
{
    public string? Name { get; set; }
    public string[]? Names { get; set; }
    public string? Action { get; set; }
    public uint? ErrnoRet { get; set; }
    public OciArgJson?[]? Args { get; set; }
    public string? Comment { get; set; }
    public OciFilterJson? Includes { get; set; }
    public OciFilterJson? Excludes { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

internal sealed class OciArgJson
{
    public uint? Index { get; set; }
    public ulong? Value { get; set; }
    public ulong? ValueTwo { get; set; }
    public string? Op { get; set; }
}

internal sealed class OciFilterJson
{
    public string[]? Caps { get; set; }
    public string[]? Arches { get; set; }
    public string? MinKernel { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, PropertyNameCaseInsensitive = true,
    ReadCommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16)]
[JsonSerializable(typeof(OciProfileJson))]
internal sealed partial class OciSeccompJsonContext : JsonSerializerContext;
