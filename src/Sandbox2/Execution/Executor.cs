using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// How to start one sandboxee (Sandbox2's <c>Executor</c>): the program, its arguments and environment, working
/// directory, limits and standard streams. One executor serves one <see cref="Sandbox"/>.
/// </summary>
public sealed class Executor
{
    /// <summary>The PATH a sandboxee gets when no environment is given.</summary>
    public const string DefaultPath = "/usr/local/bin:/usr/bin:/bin";

    /// <param name="path">The program: a path, or a bare name searched on the host's PATH.</param>
    /// <param name="args">Arguments after argv[0].</param>
    /// <param name="environment">The sandboxee's whole environment; null = just <c>PATH</c>. The host environment is never passed.</param>
    public Executor(string path, IReadOnlyList<string>? args = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ProgramPath = Find(path) ?? path; // not found: reported as PROGRAM_NOT_FOUND when the sandbox starts
        Argv0 = path;
        Args = args ?? [];
        Environment = environment;
    }

    /// <summary>Runs an already opened program (the executor takes ownership of <paramref name="programFd"/>).</summary>
    public Executor(SafeFileHandle programFd, string argv0, IReadOnlyList<string>? args = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(programFd);
        ArgumentException.ThrowIfNullOrEmpty(argv0);
        ProgramFd = programFd;
        ProgramPath = "fd:" + programFd.DangerousGetHandle();
        Argv0 = argv0;
        Args = args ?? [];
        Environment = environment;
    }

    /// <summary>The program's absolute path (a bare name resolved on the host's PATH; as given if it cannot be
    /// found), or <c>fd:N</c>.</summary>
    public string ProgramPath { get; }
    /// <summary>argv[0] as the program sees it.</summary>
    public string Argv0 { get; }
    /// <summary>The arguments after argv[0].</summary>
    public IReadOnlyList<string> Args { get; }
    /// <summary>The sandboxee's whole environment; null = just <c>PATH</c> (<see cref="DefaultPath"/>). The host environment is never passed.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; }
    internal SafeFileHandle? ProgramFd { get; }

    /// <summary>Working directory inside the sandbox.</summary>
    public string Cwd { get; set; } = "/";
    /// <summary>The sandbox's resource limits (Sandbox2's <c>Executor::limits()</c>).</summary>
    public Limits Limits { get; set; } = new();
    /// <summary>The sandboxee's standard input; null = the executor's own fd 0.</summary>
    public SafeFileHandle? Stdin { get; set; }
    /// <summary>The sandboxee's standard output; null = the executor's own fd 1.</summary>
    public SafeFileHandle? Stdout { get; set; }
    /// <summary>The sandboxee's standard error; null = the executor's own fd 2.</summary>
    public SafeFileHandle? Stderr { get; set; }
    /// <summary>Sandbox2's <c>set_enable_sandbox_before_exec</c>: true (default) installs the policy right before
    /// exec; false starts the program unfiltered, in its namespaces, mounts and limits, with a Comms channel at fd 1023,
    /// and it applies the policy itself with <c>SandboxClient.SandboxMeHere()</c> (C#) or <c>sandbox2_sandbox_me_here</c>
    /// (C), on every thread (TSYNC). The executor then sends the policy, the <see cref="Ipc"/> mappings and
    /// <see cref="Cwd"/> over Comms and attaches the monitor to the listener the program sends back. A program that
    /// never calls SandboxMeHere runs unfiltered until it exits or hits <see cref="Limits.WallTime"/> (set one); one
    /// that closes its Comms channel without calling it is killed (SETUP_ERROR), as is one whose client refuses (a
    /// thread it cannot synchronise; the reason names it).
    /// <para>The policy is the same as before exec, plus two rules placed after yours and before the default action:
    /// <c>sendmsg</c> on the Comms descriptor 1023 and <c>close</c> are allowed, because the client must still send
    /// its outcome and the listener, and close the listener, once the filter is on. A policy whose own rules forbid
    /// either (or send them to the monitor) is refused with SETUP_ERROR rather than left to hang.</para></summary>
    public bool EnableSandboxBeforeExec { get; set; } = true;

    /// <summary>Open a Comms channel to the program at fd 1023 (<see cref="Sandbox.Comms"/>) also when the policy is
    /// installed before exec. Always on with <see cref="EnableSandboxBeforeExec"/> = false. Set it before creating the
    /// <see cref="Sandbox"/>.</summary>
    public bool EnableComms { get; set; }

    /// <summary>Descriptors given to the program (Sandbox2's <c>ipc()</c>): <c>MapFd</c>, <c>ReceiveFd</c>. Before exec
    /// (the default) only mappings at a number are possible and they are in place when the program starts (a mapping at
    /// 0, 1 or 2 replaces that stream); in SandboxMeHere mode they arrive with the handshake, by number and/or name
    /// (<c>SandboxClient.GetMappedFd</c>). The sandbox takes the handles over when it starts.</summary>
    public Ipc Ipc { get; } = new();

    internal int Started;


    /// <summary>Everything decided in C# for one sandbox of <paramref name="policy"/> (Sandbox2's <c>executor.cc</c>
    /// builds the fork request): program, mounts, identity, limits, fds, the compiled filter. Returns the plan, or a
    /// SETUP_ERROR result for a program that cannot be run. Throws <see cref="PolicyException"/>,
    /// <see cref="ArgumentException"/> or <see cref="IOException"/> for a configuration that cannot work.</summary>
    /// <param name="policy">The sandbox's policy.</param>
    /// <param name="commsPeer">The sandboxee's end of the Comms channel (put at fd 1023), or null.</param>
    internal (ExecutionPlan? Plan, SandboxResult? Error) CreatePlan(Policy policy, SafeSocketHandle? commsPeer)
    {
        // The host ids (a root executor's sandbox gets its own from the range; see HostIds): held by the plan until
        // the sandbox has ended, released here when no plan comes of it.
        var ids = HostIds.Lease();
        try
        {
            var (plan, error) = CreatePlan(policy, commsPeer, ids);
            if (plan is null) ids.Dispose();
            return (plan, error);
        }
        catch
        {
            ids.Dispose();
            throw;
        }
    }

    private (ExecutionPlan? Plan, SandboxResult? Error) CreatePlan(Policy policy, SafeSocketHandle? commsPeer, HostIds ids)
    {
        bool meHere = !EnableSandboxBeforeExec;
        if (!Cwd.StartsWith('/')) throw new ArgumentException($"working directory {Cwd} is not absolute");
        if (meHere && commsPeer is null) throw new ArgumentException("SandboxMeHere needs a Comms channel", nameof(commsPeer));

        ulong nonce = meHere ? 0 : Interop.GetRandomUInt64();
        var layout = FdLayout.For(Ipc.Mappings, meHere, commsPeer is not null);
        var options = meHere
            ? new PolicyCompileOptions(MonitorAttached: true, CommsFd: layout.CommsFd)
            : new PolicyCompileOptions(MonitorAttached: true, ExecNonce: nonce);
        if (meHere) ClientHandshake.CheckPolicy(policy, options);
        byte[] bpf = meHere ? policy.Compile(options).ToBytes() : CompiledPolicyCache.Compile(policy, nonce);

        var (outsideUid, outsideGid) = (ids.Uid, ids.Gid);
        var ns = policy.Namespace;
        bool noNamespaces = ns.Isolation == IsolationLevel.NoNamespaces;
        int landlockAbi = ns.Landlock == LandlockMode.Off ? 0 : Landlock.Abi;
        if (landlockAbi == 0 && ns.Landlock == LandlockMode.Required)
        {
            int errno = Math.Max(1, -Interop.LandlockAbiVersion());
            string why = noNamespaces ? "Landlock, required without namespaces" : "Landlock, required by the policy";
            return (null, SandboxOutcome.FromFailure(new SetupFailure(why, errno, ReasonCode.FailedPolicy, KernelFeature.Landlock)));
        }
        var env = new List<string>();
        if (Environment is null) env.Add("PATH=" + DefaultPath);
        else
        {
            foreach (var (k, v) in Environment)
            {
                if (k.Length == 0 || k.Contains('=', StringComparison.Ordinal) || k.Contains('\0', StringComparison.Ordinal) || v.Contains('\0', StringComparison.Ordinal))
                    throw new ArgumentException($"invalid environment variable name or value: '{k}'");
                env.Add(k + "=" + v);
            }
        }
        env.RemoveAll(e => e.StartsWith(Comms.ConnectionFdVariable + "=", StringComparison.Ordinal)
            || e.StartsWith(Client.SandboxClient.FdMappingsVariable + "=", StringComparison.Ordinal)); // ours to set
        if (commsPeer is not null && layout.CommsFd != Comms.DefaultConnectionFd)
            env.Add(Comms.ConnectionFdVariable + "=" + layout.CommsFd.ToString(CultureInfo.InvariantCulture));
        if (layout.NamedVariable is { } named) env.Add(Client.SandboxClient.FdMappingsVariable + "=" + named);
        if (ExecArguments.Check([Argv0, .. Args], env) is { } tooLong) return (null, new SandboxResult(SandboxStatus.SetupError, tooLong, ReasonCode.FailedConfig));
        var mounts = policy.Namespace.Mounts.Clone();
        var fds = FdMappings(layout, commsPeer); // before the program is opened: nothing to close on a bad mapping
        var stdio = StdioFlags.Capture(fds.Where(f => f.TargetFd <= 2).Select(f => f.Source));
        SafeHandle programFd;
        if (ProgramFd is { } fd)
        {
            programFd = fd;
        }
        else
        {
            var (path, error) = Resolve(ProgramPath);
            if (error is not null) return (null, error);
            // As Sandbox2: the program is executed from this descriptor (execveat) and is not mounted; it is in the
            // sandbox's root only where the policy mounts it (/proc/self/exe works either way).
            programFd = Interop.OpenPath(path!);
        }

        // Without namespaces the /tmp tmpfs is a private directory (removed when the sandbox ends) and the program learns it
        // from TMPDIR; Landlock gives it exactly the mounts, at their host paths.
        string? privateTmp = null;
        if (noNamespaces && mounts.Entries.Any(e => e.Kind == Mounts.EntryKind.Tmpfs))
        {
            privateTmp = Directory.CreateTempSubdirectory("sandbox2-tmp-").FullName;
            if (Interop.GetEUid() == 0 && Interop.Chown(privateTmp, outsideUid, outsideGid) != 0)
            {
                Directory.Delete(privateTmp);
                throw new IOException($"chown {privateTmp} to {outsideUid}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
            if (!env.Any(e => e.StartsWith("TMPDIR=", StringComparison.Ordinal))) env.Add("TMPDIR=" + privateTmp);
        }
        _ = Limits.ToRlimitOps(); // a bad limit throws before anything is made
        // Each bind source opened once, here (no planted symlink followed), and pinned until the sandbox has started.
        List<MountOp> mountOps;
        try { mountOps = mounts.ToMountOps(); }
        catch (Mounts.MountSourceException e)
        {
            if (ProgramFd is null) programFd.Dispose(); // ours (opened above); a caller's stays the caller's
            if (privateTmp is not null) Directory.Delete(privateTmp);
            return (null, SandboxOutcome.FromFailure(new SetupFailure(e.What, 0, ReasonCode.FailedNamespaces, KernelFeature.None, SetupStep.BindSource)));
        }
        var identities = new Dictionary<string, (ulong Dev, ulong Ino)>(StringComparer.Ordinal);
        foreach (var op in mountOps)
            if (op is { Kind: MountOpKind.Bind, Source: { } source, SourceIdentity: { } identity }) identities[source] = identity;
        var landlock = landlockAbi > 0 ? Landlock.For(mounts, landlockAbi, insidePaths: !noNamespaces, ns.Network, privateTmp, identities, ns.RootWritable) : null;

        // Last, so that nothing above can fail with a cgroup or pipes left behind (the sandbox disposes them).
        var output = Limits.OutputSize is { } cap ? OutputLimit.Create(cap, fds[1].Source, fds[2].Source) : null;
        if (output is not null)
        {
            fds[1] = new FdMapping(1, output.StdoutPipe);
            fds[2] = new FdMapping(2, output.StderrPipe);
        }
        var cgroup = Limits.UseCgroup ? Cgroup.Create(Limits) : null;
        var plan = new SandboxPlan
        {
            Namespaces = policy.Namespace.CloneNamespaces,
            // Without a user namespace init itself changes to the outside ids (the sandbox's own when the executor is root).
            InsideUid = noNamespaces ? outsideUid : 1000,
            InsideGid = noNamespaces ? outsideGid : 1000,
            Landlock = landlock,
            OutsideUid = outsideUid,
            OutsideGid = outsideGid,
            Hostname = policy.Namespace.Hostname,
            LoopbackUp = policy.Namespace.Network == NetworkMode.Loopback,
            Mounts = mountOps,
            Rlimits = Limits.ToRlimitOps(cgroup),
            Nice = Limits.SandboxeeNice(),
            Trace = TracePlanFor(policy.StackTraces),
            Cwd = Cwd,
            Argv = [Argv0, .. Args],
            Environment = env,
            ProgramFd = programFd,
            Fds = fds,
            // SandboxMeHere: exec unfiltered (native installs nothing and sends no listener); the program gets the
            // filter over Comms and sends the listener back itself.
            Bpf = meHere ? [] : bpf,
            ExecNonce = nonce,
            NotifyListener = !meHere,
            SandboxBeforeExec = !meHere,
            Cgroups = cgroup?.Placements ?? [],
            UnshareCgroupNamespace = cgroup?.UnshareNamespaceAfterPlacement ?? false,
            WritableRootSize = ns.RootWritable ? ns.RootSizeBytes : 0,
            SpeculationAllowed = policy.AllowsSpeculation,
            // The program is not mounted: Landlock grants executing (and reading, for ld.so) its file through its fd
            // (no rule for a memfd: the kernel takes none on it, and does not restrict it).
            LandlockProgramAccess = landlock is null ? 0 : Landlock.ProgramAccess(landlock.Abi, programFd),
            SharedNetworkNamespace = ns.Network == NetworkMode.ForkServerShared,
        };
        var isolation = new SandboxIsolation { Level = ns.Isolation, LandlockAbi = landlock?.Abi };
        return (new ExecutionPlan(plan, options, meHere ? bpf : null) { Isolation = isolation, PrivateDirectory = privateTmp, Cgroup = cgroup, Output = output, HostIds = ids, Stdio = stdio }, null);
    }

    /// <summary>0/1/2, Comms at <see cref="FdLayout.CommsFd"/> when open, and (before exec) the Ipc's mappings at their numbers.</summary>
    private List<FdMapping> FdMappings(FdLayout layout, SafeSocketHandle? commsPeer)
    {
        var fds = new SortedDictionary<int, SafeHandle>
        {
            [0] = Stdin ?? new SafeFileHandle(0, ownsHandle: false),
            [1] = Stdout ?? new SafeFileHandle(1, ownsHandle: false),
            [2] = Stderr ?? new SafeFileHandle(2, ownsHandle: false),
        };
        foreach (var (fd, mapping) in layout.Placed) fds[fd] = mapping.Handle;
        if (commsPeer is not null) fds[layout.CommsFd] = commsPeer;
        return [.. fds.Select(kv => new FdMapping(kv.Key, kv.Value))];
    }

    /// <summary>Where the descriptors go: the Ipc's numbered mappings (before exec), numbers for its named-only ones
    /// (before exec: the highest free ones below 1023, announced in <c>SANDBOX2_FD_MAPPINGS</c>), and the Comms channel
    /// (1023, or the highest free number below it when a mapping takes 1023).</summary>
    internal sealed record FdLayout(int CommsFd, IReadOnlyList<(int Fd, MappedFd Mapping)> Placed, string? NamedVariable)
    {
        public static FdLayout For(IReadOnlyList<MappedFd> mappings, bool meHere, bool comms)
        {
            var used = new HashSet<int> { 0, 1, 2 };
            foreach (var m in mappings)
                if (m.RemoteFd >= 0) used.Add(m.RemoteFd);
            int NextFree()
            {
                for (int fd = Ipc.MaxRemoteFd; fd > 2; fd--)
                    if (used.Add(fd)) return fd;
                throw new ArgumentException("MapFd: no descriptor number below 1024 is left for the Comms channel or a named mapping");
            }
            int commsFd = Comms.DefaultConnectionFd;
            if (comms && !used.Add(commsFd)) commsFd = NextFree();
            var placed = new List<(int, MappedFd)>();
            var named = new List<string>();
            if (!meHere)
            {
                foreach (var m in mappings)
                {
                    int fd = m.RemoteFd >= 0 ? m.RemoteFd : NextFree();
                    placed.Add((fd, m));
                    if (m.Name.Length > 0) named.Add(Uri.EscapeDataString(m.Name) + ":" + fd.ToString(CultureInfo.InvariantCulture));
                }
            }
            return new FdLayout(commsFd, placed, named.Count > 0 ? string.Join(',', named) : null);
        }
    }

    /// <summary>Finds the program on the host: a path is taken as is (relative to the current directory), a bare
    /// name is searched on the host's PATH. Returns the absolute path, or a SETUP_ERROR result.</summary>
    internal static (string? Path, SandboxResult? Error) Resolve(string program)
    {
        string? found = Find(program);
        if (found is null)
            return (null, new SandboxResult(SandboxStatus.SetupError, $"{program}: program not found", ReasonCode.ProgramNotFound));
        if (Directory.Exists(found) || Interop.Access(found, Interop.X_OK) != 0)
            return (null, new SandboxResult(SandboxStatus.SetupError, $"{found}: not executable", ReasonCode.ProgramNotExecutable));
        return (found, null);
    }

    /// <summary>The absolute path of an existing <paramref name="program"/>: a path as is, a bare name on the host's
    /// PATH (the first executable match, else the first existing one); null if there is none.</summary>
    internal static string? Find(string program)
    {
        string? found = null;
        if (program.Contains('/', StringComparison.Ordinal))
        {
            found = System.IO.Path.GetFullPath(program);
            if (!File.Exists(found) && !Directory.Exists(found)) found = null;
        }
        else
        {
            string pathVar = System.Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } p ? p : DefaultPath;
            foreach (var dir in pathVar.Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = System.IO.Path.Combine(dir, program);
                if (File.Exists(candidate) && Interop.Access(candidate, Interop.X_OK) == 0) { found = System.IO.Path.GetFullPath(candidate); break; }
                found ??= File.Exists(candidate) ? System.IO.Path.GetFullPath(candidate) : null;
            }
        }
        return found;
    }

    /// <summary>init traces PID 2 when a trace on a signal or an exit is wanted: it holds a death by any signal but
    /// SIGKILL (SIGSTOP cannot kill), or a normal exit, for at most the trace budget and a margin.</summary>
    private static TracePlan? TracePlanFor(StackTraceOptions traces)
    {
        if (!traces.OnSignal && !traces.OnExit) return null;
        ulong signals = traces.OnSignal ? ~0UL & ~(1UL << 9) & ~1UL : 0; // bit N = signal N; no signal 0, no SIGKILL
        return new TracePlan(signals, traces.OnExit, (int)(Monitor.StackTraceBudget + TimeSpan.FromSeconds(1)).TotalMilliseconds);
    }
}

/// <summary>The plan of one sandbox and how its policy was compiled.</summary>
/// <param name="Plan">What the native side carries out.</param>
/// <param name="Options">The compile options (the monitor evaluates the policy with the same ones).</param>
/// <param name="HandshakeBpf">SandboxMeHere mode: the filter to send in the handshake; null before exec.</param>
internal sealed record ExecutionPlan(SandboxPlan Plan, PolicyCompileOptions Options, byte[]? HandshakeBpf)
{
    /// <summary>What the sandbox's isolation will be once it runs.</summary>
    public SandboxIsolation? Isolation { get; init; }

    /// <summary>No namespaces: the private directory standing for /tmp, removed when the sandbox has ended.</summary>
    public string? PrivateDirectory { get; init; }

    /// <summary>Removes <see cref="PrivateDirectory"/> (what the sandbox wrote there is hostile: links are removed, never
    /// followed).</summary>
    public void RemovePrivateDirectory()
    {
        if (PrivateDirectory is null) return;
        try { Directory.Delete(PrivateDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
    /// <summary>The sandbox's cgroup (owned by the sandbox: removed when it ended), or null: rlimits only.</summary>
    public Cgroup? Cgroup { get; init; }
    /// <summary>The stdout/stderr pump of <see cref="Limits.OutputSize"/>, or null.</summary>
    public OutputLimit? Output { get; init; }
    /// <summary>The sandbox's host uid/gid (held until it has ended: see <see cref="Sandbox2.HostIds"/>).</summary>
    public HostIds? HostIds { get; init; }
    /// <summary>The status flags of the stdio it shares with the caller, restored when it has ended.</summary>
    public StdioFlags? Stdio { get; init; }

}
