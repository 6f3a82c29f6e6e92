using System.Globalization;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>What a sandbox's cgroup counted, read when it ended (before it is removed).</summary>
/// <param name="CpuTime">CPU time of every process that ever ran in it (cpu.stat usage_usec / cpuacct.usage).</param>
/// <param name="MemoryPeakKb">Peak memory charged to it (memory.peak / memory.max_usage_in_bytes), KiB; 0 when unknown.</param>
/// <param name="Processes">Most tasks at once, init not counted (pids.peak - 1); 0 when unknown.</param>
/// <param name="OomKills">Processes the OOM killer killed in it (memory.events / memory.oom_control oom_kill).</param>
internal sealed record CgroupUsage(TimeSpan CpuTime, long MemoryPeakKb, int Processes, long OomKills);

/// <summary>How the native side places init in the cgroup: clone3 CLONE_INTO_CGROUP with a v2 directory fd, or (v1) its
/// pid written to a cgroup.procs fd before init runs.</summary>
internal sealed record CgroupPlacement(bool CloneInto, SafeFdHandle Fd);

/// <summary>
/// One sandbox's cgroup (nsjail's <c>cgroup2.cc</c> / <c>cgroup.cc</c>, the parent half): made before the sandbox
/// starts, below the executor's own cgroup, named <c>sandbox2-{pid namespace}-{executor pid}-{sequence}</c>; limits
/// written (pids.max, memory.max with swap off and the OOM killer taking the whole group); removed after the sandbox
/// ended, after killing anything left (cgroup.kill on v2; freeze, kill, thaw on v1). Cgroups of executors that died
/// are removed when the first sandbox of a process is made.
/// </summary>
internal sealed class Cgroup : IDisposable
{
    private const string Prefix = "sandbox2-";
    private static int s_sequence;
    private static int s_staleSwept;

    private readonly CgroupVersion _version;
    private readonly string? _v2;
    private readonly Dictionary<string, string> _v1 = new(StringComparer.Ordinal);
    private readonly List<CgroupPlacement> _placements = [];
    private SafeFdHandle? _oomEvent, _oomControl;
    private CancellationTokenSource? _watch;
    private Timer? _cpuTimer;
    private int _disposed;

    private Cgroup(CgroupVersion version, string? v2)
    {
        _version = version;
        _v2 = v2;
    }

    /// <summary>The hierarchy it is in.</summary>
    public CgroupVersion Version => _version;
    /// <summary>memory.max (or v1 memory.limit_in_bytes) bounds the whole sandbox.</summary>
    public bool LimitsMemory { get; private set; }
    /// <summary>pids.max bounds the whole sandbox.</summary>
    public bool LimitsProcesses { get; private set; }
    /// <summary>The cgroup's directory (v2) or its memory controller's directory (v1), for tests and diagnostics.</summary>
    public string Path => _v2 ?? _v1.GetValueOrDefault("memory") ?? _v1.Values.First();
    /// <summary>Descriptors for the plan (disposed with the cgroup, or earlier by <see cref="ClosePlacements"/>).</summary>
    public IReadOnlyList<CgroupPlacement> Placements => _placements;
    /// <summary>v1: init is placed after clone, so it unshares its cgroup namespace itself once placed.</summary>
    public bool UnshareNamespaceAfterPlacement => _version == CgroupVersion.V1;

    /// <summary>Makes the cgroup of one sandbox with <paramref name="limits"/> where the layout allows; null when there is
    /// none (then rlimits bound the sandbox). A cgroup that cannot be made (a read-only tree, no permission) is also null.</summary>
    public static Cgroup? Create(Limits limits, CgroupLayout? layout = null)
    {
        layout ??= CgroupLayout.Current;
        if (layout.Version is null) return null;
        if (Interlocked.Exchange(ref s_staleSwept, 1) == 0) RemoveStale(layout);
        string name = Name(Environment.ProcessId, Interlocked.Increment(ref s_sequence));
        Cgroup? cg = null;
        try
        {
            if (layout.Version == CgroupVersion.V2)
            {
                string dir = layout.V2Parent + "/" + name;
                if (Interop.MkDir(dir, 0x1ED /* 0755 */) != 0) return null;
                cg = new Cgroup(CgroupVersion.V2, dir);
                if (!cg.ConfigureV2(limits, layout.V2Controllers)) { cg.Dispose(); return null; }
            }
            else
            {
                cg = new Cgroup(CgroupVersion.V1, null);
                foreach (var (controller, parent) in layout.V1Parents)
                {
                    string dir = parent + "/" + name;
                    if (Interop.MkDir(dir, 0x1ED /* 0755 */) != 0) { cg.Dispose(); return null; }
                    cg._v1[controller] = dir;
                }
                if (!cg.ConfigureV1(limits)) { cg.Dispose(); return null; }
            }
            return cg;
        }
        catch (IOException)
        {
            cg?.Dispose();
            return null;
        }
    }

    private bool ConfigureV2(Limits limits, bool controllers)
    {
        string d = _v2!;
        if (controllers)
        {
            if (limits.Processes is int n && Interop.WriteFile(d + "/pids.max", Num(n + 1L)) != 0) return false; // + init
            if (limits.Memory is ulong m)
            {
                if (Interop.WriteFile(d + "/memory.max", Num(m)) != 0) return false;
                _ = Interop.WriteFile(d + "/memory.swap.max", "0"); // absent without swap accounting: nothing to turn off
            }
            _ = Interop.WriteFile(d + "/memory.oom.group", "1"); // the OOM killer ends the whole sandbox, not one process
            LimitsProcesses = limits.Processes is not null;
            LimitsMemory = limits.Memory is not null;
        }
        int fd = Interop.Open(d, Interop.O_RDONLY | Interop.O_DIRECTORY | Interop.O_CLOEXEC, 0);
        if (fd < 0) return false;
        _placements.Add(new CgroupPlacement(CloneInto: true, new SafeFdHandle(fd)));
        return true;
    }

    private bool ConfigureV1(Limits limits)
    {
        if (_v1.TryGetValue("pids", out var pids) && limits.Processes is int n)
        {
            if (Interop.WriteFile(pids + "/pids.max", Num(n + 1L)) != 0) return false;
            LimitsProcesses = true;
        }
        if (_v1.TryGetValue("memory", out var mem))
        {
            if (limits.Memory is ulong m)
            {
                if (Interop.WriteFile(mem + "/memory.limit_in_bytes", Num(m)) != 0) return false;
                _ = Interop.WriteFile(mem + "/memory.memsw.limit_in_bytes", Num(m)); // swap off (with swap accounting)
                LimitsMemory = true;
            }
            // OOM notification (cgroup.event_control): v1's OOM killer takes one process; the executor ends the rest.
            int efd = Interop.EventFd(0, Interop.O_CLOEXEC | Interop.O_NONBLOCK);
            int ofd = Interop.Open(mem + "/memory.oom_control", Interop.O_RDONLY | Interop.O_CLOEXEC, 0);
            if (efd >= 0) _oomEvent = new SafeFdHandle(efd);
            if (ofd >= 0) _oomControl = new SafeFdHandle(ofd);
            if (efd < 0 || ofd < 0 || Interop.WriteFile(mem + "/cgroup.event_control", Num(efd) + " " + Num(ofd)) != 0)
            {
                _oomEvent?.Dispose();
                _oomEvent = null;
            }
        }
        foreach (var dir in _v1.Values)
        {
            int fd = Interop.Open(dir + "/cgroup.procs", Interop.O_WRONLY | Interop.O_CLOEXEC, 0);
            if (fd < 0) return false;
            _placements.Add(new CgroupPlacement(CloneInto: false, new SafeFdHandle(fd)));
        }
        return true;
    }

    /// <summary>Closes the placement descriptors (the sandbox is in the cgroup, or never will be).</summary>
    public void ClosePlacements()
    {
        foreach (var p in _placements) p.Fd.Dispose();
    }

    /// <summary>Starts what the executor enforces while the sandbox runs: the CPU-time limit summed over every process
    /// (checked on a thread-pool timer, never on the monitor's loop) and, on v1, the OOM notification. Each calls
    /// <paramref name="end"/> with its cause once.</summary>
    public void Watch(TimeSpan? cpuLimit, Action<EndCause> end)
    {
        _watch = new CancellationTokenSource();
        var token = _watch.Token;
        if (_oomEvent is { } oom)
        {
            Monitor.Shared.WaitReadableAsync(oom, token).ContinueWith(
                (t, s) => { if (t.IsCompletedSuccessfully) end(EndCause.OutOfMemory()); }, null,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        if (cpuLimit is { } limit)
        {
            int cpus = Math.Max(1, Environment.ProcessorCount);
            _cpuTimer = new Timer(_ =>
            {
                if (token.IsCancellationRequested) return;
                TimeSpan used = CpuTime();
                if (used >= limit)
                {
                    end(EndCause.CpuLimit(limit));
                    return;
                }
                // CPU time grows at most #cpus times as fast as wall time: check again when the limit could first be reached.
                var next = TimeSpan.FromTicks(Math.Clamp((limit - used).Ticks / cpus, TimeSpan.FromMilliseconds(5).Ticks, TimeSpan.FromMinutes(10).Ticks));
                try { _cpuTimer?.Change(next, Timeout.InfiniteTimeSpan); } catch (ObjectDisposedException) { }
            }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _cpuTimer.Change(TimeSpan.FromTicks(Math.Max(limit.Ticks / cpus, TimeSpan.FromMilliseconds(5).Ticks)), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>CPU time of everything that ran in the cgroup so far.</summary>
    public TimeSpan CpuTime()
    {
        if (_version == CgroupVersion.V2)
            return TimeSpan.FromMicroseconds(Field(Interop.ReadSmallFile(_v2 + "/cpu.stat"), "usage_usec"));
        return _v1.TryGetValue("cpuacct", out var d) && Number(Interop.ReadSmallFile(d + "/cpuacct.usage")) is long ns
            ? TimeSpan.FromTicks(ns / 100) : TimeSpan.Zero;
    }

    /// <summary>OOM kills in the cgroup so far.</summary>
    public long OomKills() => _version == CgroupVersion.V2
        ? Field(Interop.ReadSmallFile(_v2 + "/memory.events"), "oom_kill")
        : _oomControl is { } h ? Field(Interop.ReadSmallFile(h), "oom_kill") : 0;

    /// <summary>What the cgroup counted (call after the sandbox ended, before <see cref="Dispose"/>).</summary>
    public CgroupUsage ReadUsage()
    {
        long peakBytes, pidsPeak;
        if (_version == CgroupVersion.V2)
        {
            peakBytes = Number(Interop.ReadSmallFile(_v2 + "/memory.peak")) ?? 0;
            pidsPeak = Number(Interop.ReadSmallFile(_v2 + "/pids.peak")) ?? 0;
        }
        else
        {
            peakBytes = _v1.TryGetValue("memory", out var m) ? Number(Interop.ReadSmallFile(m + "/memory.max_usage_in_bytes")) ?? 0 : 0;
            pidsPeak = _v1.TryGetValue("pids", out var p) ? Number(Interop.ReadSmallFile(p + "/pids.peak")) ?? 0 : 0;
        }
        return new CgroupUsage(CpuTime(), peakBytes / 1024, (int)Math.Max(0, pidsPeak - 1), OomKills());
    }

    /// <summary>Kills every process in the cgroup (v2 cgroup.kill; v1 freeze, SIGKILL each, thaw).</summary>
    public void KillAll()
    {
        if (_version == CgroupVersion.V2)
        {
            if (Interop.WriteFile(_v2 + "/cgroup.kill", "1") == 0) return;
            KillListed(_v2!);
            return;
        }
        string? freezer = _v1.GetValueOrDefault("freezer");
        if (freezer is not null) _ = Interop.WriteFile(freezer + "/freezer.state", "FROZEN");
        foreach (var dir in _v1.Values) KillListed(dir);
        if (freezer is not null) _ = Interop.WriteFile(freezer + "/freezer.state", "THAWED");
    }

    private static void KillListed(string dir)
    {
        foreach (var line in (Interop.ReadSmallFile(dir + "/cgroup.procs") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0)
                _ = Interop.Kill(pid, Interop.SignalKill);
    }

    /// <summary>Kills what is left and removes the cgroup. When the sandbox's init has exited, its pid namespace is
    /// already empty, so this is normally one rmdir per directory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _watch?.Cancel();
        _cpuTimer?.Dispose();
        ClosePlacements();
        var dirs = _v2 is not null ? [_v2] : _v1.Values.ToList();
        if (!dirs.All(d => Interop.RmDir(d) == 0 || Marshal.GetLastPInvokeError() == Interop.ENOENT))
        {
            KillAll();
            foreach (var d in dirs) RemoveWhenEmpty(d);
        }
        _oomEvent?.Dispose();
        _oomControl?.Dispose();
        _watch?.Dispose();
    }

    /// <summary>rmdir, retried while tasks that were just killed finish exiting (bounded: 2 s).</summary>
    private static void RemoveWhenEmpty(string dir)
    {
        var until = Environment.TickCount64 + 2000;
        while (Interop.RmDir(dir) != 0 && Marshal.GetLastPInvokeError() == Interop.EBUSY && Environment.TickCount64 < until)
        {
            KillListed(dir);
            Thread.Sleep(1);
        }
    }

    /// <summary>Removes empty cgroups left by executors of this pid namespace that no longer run.</summary>
    internal static void RemoveStale(CgroupLayout layout)
    {
        var parents = layout.V2Parent is { } p2 ? [p2] : layout.V1Parents.Values.ToList();
        string ns = PidNamespace();
        foreach (var parent in parents)
        {
            string[] children;
            try { children = Directory.GetDirectories(parent, Prefix + "*"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var dir in children)
            {
                var parts = System.IO.Path.GetFileName(dir).Split('-');
                if (parts.Length != 4 || parts[1] != ns || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
                if (pid == Environment.ProcessId || Interop.Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != Interop.ESRCH) continue;
                if (Interop.RmDir(dir) != 0 && Marshal.GetLastPInvokeError() == Interop.EBUSY && layout.Version == CgroupVersion.V2)
                {
                    _ = Interop.WriteFile(dir + "/cgroup.kill", "1"); // left over from a crash: nothing of it may run on
                    RemoveWhenEmpty(dir);
                }
            }
        }
    }

    internal static string Name(int pid, int sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{PidNamespace()}-{pid}-{sequence}");

    private static string? s_pidNamespace;

    /// <summary>The inode of this process's pid namespace: pids of other namespaces are not compared.</summary>
    private static string PidNamespace()
    {
        if (s_pidNamespace is { } cached) return cached;
        string ns = "0";
        try
        {
            string link = File.ResolveLinkTarget("/proc/self/ns/pid", returnFinalTarget: false)?.LinkTarget ?? "";
            int a = link.IndexOf('['), b = link.IndexOf(']');
            if (a >= 0 && b > a) ns = link[(a + 1)..b];
        }
        catch (IOException) { }
        return s_pidNamespace = ns;
    }

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Num(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static long? Number(string? text) =>
        long.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;

    /// <summary>The value of <c>key N</c> in a flat-keyed cgroup file; 0 when absent.</summary>
    private static long Field(string? text, string key)
    {
        foreach (var line in (text ?? "").Split('\n'))
        {
            if (line.Length > key.Length && line.StartsWith(key, StringComparison.Ordinal) && line[key.Length] == ' '
                && long.TryParse(line.AsSpan(key.Length + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long v))
                return v;
        }
        return 0;
    }
}
