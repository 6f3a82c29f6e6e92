using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Sandbox2;

/// <summary>
/// A host path named by the user (a bind source, a <c>--result</c> file), resolved without following a symlink a
/// sandbox could have planted. A directory a sandbox could write (a read-write bind) may hold links it made, such as
/// <c>work/dotdot -&gt; ../../..</c>; following one would let it choose the host file a later run binds or writes.
/// So the path is walked one component at a time from <c>/</c> (<c>openat(O_PATH|O_NOFOLLOW)</c>), each component is
/// looked at before it is used, and a symbolic link is followed only when it is owned by root: a sandbox never runs as
/// root on the host (root executor: a host uid of its own, see HostIds; unprivileged executor: the executor's own uid), so it cannot make one,
/// while the system's own links (<c>/lib64 -&gt; usr/lib64</c>, <c>/var/run -&gt; /run</c>) are root's. Every other
/// link is refused with a message naming it and where it points. The result is an <c>O_PATH</c> descriptor of the
/// file itself, its canonical path (every component a real directory), its fstat, and the links that were followed.
/// </summary>
internal static class HostPath
{
    /// <summary>Most symlinks followed in one path (the kernel's MAXSYMLINKS).</summary>
    public const int MaxLinks = 40;

    /// <summary>The resolved path: an <c>O_PATH</c> descriptor of it (owned), where it is, what it is.</summary>
    internal sealed record Resolved(SafeFdHandle Fd, string CanonicalPath, Interop.Stat Stat, IReadOnlyList<string> FollowedLinks) : IDisposable
    {
        /// <summary>True for a directory.</summary>
        public bool IsDirectory => (Stat.Mode & Interop.S_IFMT) == Interop.S_IFDIR;

        /// <inheritdoc/>
        public void Dispose() => Fd.Dispose();
    }

    /// <summary>Resolves absolute <paramref name="path"/> as the class summary says. ".." is taken as typed
    /// (lexically, before the walk); a ".." inside a followed root-owned link goes to the parent of the real directory
    /// reached so far. Returns null and a reason (naming the component) when a component is missing, not a directory,
    /// or a symbolic link not owned by root.</summary>
    public static Resolved? TryOpen(string path, out string? error) => TryOpen(path, out error, out _);

    /// <inheritdoc cref="TryOpen(string, out string?)"/>
    /// <param name="path">The host path.</param>
    /// <param name="error">Why it was refused, or null.</param>
    /// <param name="errno">The errno of the failed call (ELOOP for a refused link, 0 for success). An exhausted
    /// resource (EMFILE, ENFILE, ENOMEM) is a <see cref="ResourceExhaustedException"/>, not an error.</param>
    public static Resolved? TryOpen(string path, out string? error, out int errno)
    {
        ArgumentNullException.ThrowIfNull(path);
        error = null;
        errno = 0;
        int lastErrno = 0;
        string LastError()
        {
            lastErrno = Marshal.GetLastPInvokeError();
            if (HostResources.IsExhaustion(lastErrno) && lastErrno != 11) throw new ResourceExhaustedException(HostResources.Exhausted($"opening {path}", lastErrno));
            return Marshal.GetPInvokeErrorMessage(lastErrno);
        }
        if (path.Length == 0 || path[0] != '/') { error = $"{path} is not an absolute path"; errno = 22; return null; }
        if (path.Contains('\0', StringComparison.Ordinal)) { error = "the path contains a NUL byte"; errno = 22; return null; }
        var pending = new Stack<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var canonical = new List<string>();
        var followed = new List<string>();
        SafeFdHandle dir = OpenRoot();
        Interop.Stat st = default;
        if (Interop.FStat(dir, out st) != 0) { dir.Dispose(); error = "fstat /: " + LastError(); return Failed(out errno, lastErrno); }
        int hops = 0;
        try
        {
            while (pending.Count > 0)
            {
                string part = pending.Pop();
                if (part is "" or ".") continue;
                string shown = "/" + string.Join('/', [.. canonical, part]);
                if (part == "..")
                {
                    if (canonical.Count == 0) continue; // "/.." is "/"
                    int up = Interop.OpenAt(dir, "..", Interop.O_PATH | Interop.O_DIRECTORY | Interop.O_CLOEXEC, 0);
                    if (up < 0) { error = $"{shown}: {LastError()}"; return Failed(out errno, lastErrno); }
                    Replace(ref dir, up);
                    canonical.RemoveAt(canonical.Count - 1);
                    if (Interop.FStat(dir, out st) != 0) { error = $"{shown}: fstat: {LastError()}"; return Failed(out errno, lastErrno); }
                    continue;
                }
                int fd = Interop.OpenAt(dir, part, Interop.O_PATH | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, 0);
                if (fd < 0) { error = $"{shown}: {LastError()}"; return Failed(out errno, lastErrno); }
                var next = new SafeFdHandle(fd);
                if (Interop.FStat(next, out var nst) != 0) { next.Dispose(); error = $"{shown}: fstat: {LastError()}"; return Failed(out errno, lastErrno); }
                if ((nst.Mode & Interop.S_IFMT) == Interop.S_IFLNK)
                {
                    string? target = ReadLink(next);
                    next.Dispose();
                    if (target is null) { error = $"{shown}: readlink: {LastError()}"; return Failed(out errno, lastErrno); }
                    if (nst.Uid != 0)
                    {
                        error = $"{shown} is a symbolic link owned by uid {nst.Uid.ToString(CultureInfo.InvariantCulture)} (-> {target}): "
                            + "not followed, a sandbox could have planted it (only root's links are followed); name the real path";
                        return Failed(out errno, lastErrno);
                    }
                    if (++hops > MaxLinks) { error = $"{path}: more than {MaxLinks} symbolic links"; return Failed(out errno, lastErrno); }
                    followed.Add($"{shown} -> {target}");
                    if (target.StartsWith('/'))
                    {
                        Replace(ref dir, OpenRoot());
                        canonical.Clear();
                    }
                    foreach (var t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(t);
                    continue;
                }
                if (pending.Count > 0 && (nst.Mode & Interop.S_IFMT) != Interop.S_IFDIR && pending.Any(p => p is not ("" or ".")))
                {
                    next.Dispose();
                    error = $"{shown}: not a directory";
                    errno = 20; // ENOTDIR
                    return null;
                }
                dir.Dispose();
                dir = next;
                st = nst;
                canonical.Add(part);
            }
            var resolved = new Resolved(dir, "/" + string.Join('/', canonical), st, followed);
            dir = null!;
            return resolved;
        }
        finally { dir?.Dispose(); }
    }

    /// <summary>As <see cref="TryOpen(string, out string?)"/>; throws <see cref="PolicyException"/> with the reason.</summary>
    public static Resolved Open(string path, string what)
        => TryOpen(path, out string? error) ?? throw new PolicyException($"{what} {path}: {error}");

    /// <summary>A failed walk: its errno (ELOOP for a refused link).</summary>
    private static Resolved? Failed(out int errno, int lastErrno)
    {
        errno = lastErrno != 0 ? lastErrno : 40;
        return null;
    }

    private static SafeFdHandle OpenRoot()
    {
        int fd = Interop.Open("/", Interop.O_PATH | Interop.O_DIRECTORY | Interop.O_CLOEXEC, 0);
        if (fd >= 0) return new SafeFdHandle(fd);
        int errno = Marshal.GetLastPInvokeError();
        if (HostResources.IsExhaustion(errno)) throw new ResourceExhaustedException(HostResources.Exhausted("opening /", errno));
        throw new IOException("cannot open /: " + Marshal.GetPInvokeErrorMessage(errno));
    }

    private static void Replace(ref SafeFdHandle dir, int fd)
    {
        dir.Dispose();
        dir = new SafeFdHandle(fd);
    }

    private static void Replace(ref SafeFdHandle dir, SafeFdHandle fd)
    {
        dir.Dispose();
        dir = fd;
    }

    /// <summary>The target of the symlink open as <paramref name="link"/> (O_PATH|O_NOFOLLOW), or null.</summary>
    internal static string? ReadLink(SafeFdHandle link)
    {
        Span<byte> buffer = stackalloc byte[4096];
        nint n = Interop.ReadLinkAt(link, "", buffer, (nuint)buffer.Length);
        if (n < 0 || n >= buffer.Length) return null;
        return Encoding.UTF8.GetString(buffer[..(int)n]);
    }
}
