using System.Globalization;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>
/// The host uid/gid a sandbox's uid/gid 1000 map to. An unprivileged executor's sandboxes run as the executor itself.
/// A root executor gives every concurrently running sandbox its own host uid and gid (the same number) from a range,
/// as isolate does with its boxes, so that no sandbox — and no file it leaves behind — can signal, ptrace or alter
/// another: they share no host identity. The range is <see cref="DefaultFirst"/>–<see cref="DefaultLast"/>
/// (systemd's "unused" block above its container range) unless the environment variable <c>SANDBOX2_HOST_UIDS</c>
/// says <c>FIRST-LAST</c>.
/// <para>Allocation: a lock file per id in <see cref="LockDirectory"/> (root only, 0700), held with <c>flock</c> for as
/// long as the sandbox runs (the kernel drops it when the executor process dies, and with it the forkserver and
/// every sandbox), tried from a random place in the range; an id whose lock is held, or that a running process still
/// has (<c>/proc/PID</c> owned by it), is skipped. Two executor processes never get the same id at once.</para>
/// <para>A later sandbox may get an id again once its earlier holder has ended: a caller that keeps files a sandbox
/// wrote in a read-write bind should take them over (chown) when it has ended.</para>
/// </summary>
internal sealed class HostIds : IDisposable
{
    /// <summary>The first id of the default range.</summary>
    public const uint DefaultFirst = 2_000_000_000;
    /// <summary>The last id of the default range (65,536 ids).</summary>
    public const uint DefaultLast = DefaultFirst + 65_535;
    /// <summary>The environment variable that overrides the range: <c>FIRST-LAST</c>.</summary>
    public const string RangeVariable = "SANDBOX2_HOST_UIDS";
    /// <summary>Where the lock files are (one per id in use), where <c>/run</c> exists; else the same under <c>/dev/shm</c>
    /// or <c>/tmp</c> (a container's root may have no <c>/run</c>): see <see cref="LockDirectoryInUse"/>.</summary>
    public const string LockDirectory = "/run/sandbox2/host-ids";

    private static string? s_lockDirectory;

    /// <summary>The lock directory this process uses: under the first of <c>/run</c>, <c>/dev/shm</c>, <c>/tmp</c> that is a
    /// directory (not a link). In a world-writable base another user could have made <c>sandbox2</c> first: then
    /// <see cref="Lease"/> refuses (it must be root's), which denies service but never shares an id.</summary>
    public static string LockDirectoryInUse => s_lockDirectory ??= ChooseLockDirectory();

    private static string ChooseLockDirectory()
    {
        foreach (string root in (string[])["/run", "/dev/shm", "/tmp"])
        {
            if (Interop.StatNoFollow(root, out var st) == 0 && (st.Mode & 0xf000) == 0x4000)
                return root + "/sandbox2/host-ids";
        }
        return LockDirectory;
    }

    private const int LOCK_EX = 2, LOCK_NB = 4, EWOULDBLOCK = 11;
    private SafeFdHandle? _lock;

    private HostIds(uint uid, uint gid, SafeFdHandle? held)
    {
        Uid = uid;
        Gid = gid;
        _lock = held;
    }

    /// <summary>The sandbox's host uid.</summary>
    public uint Uid { get; }
    /// <summary>The sandbox's host gid.</summary>
    public uint Gid { get; }

    /// <summary>The range a root executor allocates from (<c>SANDBOX2_HOST_UIDS</c>, else the default).</summary>
    /// <exception cref="ArgumentException">The variable is malformed (names it).</exception>
    public static (uint First, uint Last) Range()
    {
        string? text = Environment.GetEnvironmentVariable(RangeVariable);
        if (string.IsNullOrWhiteSpace(text)) return (DefaultFirst, DefaultLast);
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0
            && uint.TryParse(text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out uint first)
            && uint.TryParse(text.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint last)
            && first >= 1000 && first <= last && last < 0xfffffffe && first is not 65534 && last - first < 1 << 24
            && (65534 < first || 65534 > last))
            return (first, last);
        throw new ArgumentException($"{RangeVariable}={text}: expected FIRST-LAST, unprivileged host ids (1000..4294967293, not 65534, at most 16777216 of them)");
    }

    /// <summary>The ids for one sandbox: the executor's own when it is not root, else a free id of the range (held until
    /// <see cref="Dispose"/>).</summary>
    /// <exception cref="IOException">The lock directory cannot be made, or every id of the range is in use.</exception>
    public static HostIds Lease()
    {
        uint euid = Interop.GetEUid();
        if (euid != 0) return new HostIds(euid, Interop.GetEGid(), null);
        var (first, last) = Range();
        EnsureLockDirectory();
        ulong count = (ulong)last - first + 1;
        ulong start = Interop.GetRandomUInt64() % count;
        HashSet<uint>? running = null;
        for (ulong i = 0; i < count; i++)
        {
            uint id = (uint)(first + (start + i) % count);
            var held = TryLock(id);
            if (held is null) continue;
            running ??= RunningUids();
            if (running.Contains(id))
            {
                held.Dispose();
                continue;
            }
            return new HostIds(id, id, held);
        }
        throw new IOException($"every host uid of {first}-{last} is in use by a running sandbox (set {RangeVariable}=FIRST-LAST for a larger range)");
    }

    /// <summary>Releases the id (the sandbox has ended).</summary>
    public void Dispose()
    {
        var held = Interlocked.Exchange(ref _lock, null);
        held?.Dispose(); // closing the descriptor drops the flock
    }

    private static void EnsureLockDirectory()
    {
        string locks = LockDirectoryInUse;
        foreach (string dir in (string[])[Path.GetDirectoryName(locks)!, locks])
        {
            if (Interop.MkDir(dir, 0x1c0 /*0700*/) != 0 && Marshal.GetLastPInvokeError() != Interop.EEXIST)
                throw new IOException($"cannot create {dir}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            // Not a link, root's, and nobody else's to write: lock files elsewhere would not keep ids apart.
            if (Interop.StatNoFollow(dir, out var st) != 0 || (st.Mode & 0xf000) != 0x4000 || st.Uid != 0 || (st.Mode & 0x12) != 0)
                throw new IOException($"{dir} must be a directory owned by root and writable by root only");
        }
    }

    private static SafeFdHandle? TryLock(uint id)
    {
        string path = string.Create(CultureInfo.InvariantCulture, $"{LockDirectoryInUse}/{id}");
        int fd = Interop.Open(path, Interop.O_RDWR | Interop.O_CREAT | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, 0x180 /*0600*/);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (HostResources.IsExhaustion(errno)) throw new ResourceExhaustedException(HostResources.Exhausted($"opening {path}", errno));
            throw new IOException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var handle = new SafeFdHandle(fd);
        if (Interop.Flock(handle, LOCK_EX | LOCK_NB) == 0) return handle;
        int e = Marshal.GetLastPInvokeError();
        handle.Dispose();
        if (e == EWOULDBLOCK) return null;
        throw new IOException($"flock {path}: {Marshal.GetPInvokeErrorMessage(e)}");
    }

    /// <summary>The owners of the processes now running (/proc/PID belongs to the task's effective uid while it is
    /// dumpable, which a sandboxee is).</summary>
    private static HashSet<uint> RunningUids()
    {
        var uids = new HashSet<uint>();
        try
        {
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                string name = Path.GetFileName(dir);
                if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
                if (Interop.StatNoFollow(dir, out var st) == 0) uids.Add(st.Uid);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return uids;
    }
}
