using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// Opening a file named by something untrusted (a program's ELF headers, a sandboxee's memory map) without ever
/// calling open() on anything but a regular file: the path is first opened <c>O_PATH</c> (which never runs a
/// driver's or a FIFO's open, so it cannot block or have side effects), checked with fstat, and only a regular
/// file is reopened for reading through <c>/proc/self/fd/N</c> — the same inode, no second path walk — with
/// <c>O_RDONLY|O_NONBLOCK|O_CLOEXEC</c>.
/// </summary>
internal static class RegularFile
{
    /// <summary>An open regular file: the read handle, its fstat, and where the kernel says it is.</summary>
    internal sealed record Opened(SafeFileHandle Handle, Interop.Stat Stat, string CanonicalPath) : IDisposable
    {
        public void Dispose() => Handle.Dispose();
    }

    /// <summary>Opens <paramref name="path"/> for reading if it is a regular file. <paramref name="followLast"/> false
    /// adds <c>O_NOFOLLOW</c> (a final symlink is refused). Returns null and a reason otherwise.</summary>
    public static Opened? TryOpen(string path, bool followLast, out string? error) => TryOpen(path, followLast, out error, out _);

    /// <inheritdoc cref="TryOpen(string, bool, out string?)"/>
    /// <param name="path">The file to open.</param>
    /// <param name="followLast">Whether a final symlink is followed.</param>
    /// <param name="error">Why the file was refused, or null.</param>
    /// <param name="errno">The errno of a failed open of <paramref name="path"/> (0 otherwise).</param>
    public static Opened? TryOpen(string path, bool followLast, out string? error, out int errno)
    {
        errno = 0;
        int fd = Interop.Open(path, Interop.O_PATH | Interop.O_CLOEXEC | (followLast ? 0 : Interop.O_NOFOLLOW), 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            error = Marshal.GetPInvokeErrorMessage(errno);
            return null;
        }
        using var pathFd = new SafeFdHandle(fd);
        if (Interop.FStat(pathFd, out var st) != 0)
        {
            error = "fstat failed: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            return null;
        }
        if (!st.IsRegular)
        {
            error = "not a regular file (" + Describe(st.Mode) + ")";
            return null;
        }
        string self = "/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture);
        string canonical;
        try { canonical = new FileInfo(self).LinkTarget ?? path; }
        catch (IOException) { canonical = path; }
        int rd = Interop.Open(self, Interop.O_RDONLY | Interop.O_NONBLOCK | Interop.O_CLOEXEC, 0);
        if (rd < 0)
        {
            error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            return null;
        }
        var handle = new SafeFileHandle((nint)rd, ownsHandle: true);
        if (Interop.FStat(handle, out var st2) != 0 || st2.Dev != st.Dev || st2.Ino != st.Ino || !st2.IsRegular)
        {
            handle.Dispose();
            error = "the file changed while it was opened";
            return null;
        }
        error = null;
        return new Opened(handle, st2, canonical);
    }

    /// <summary>Where directory <paramref name="path"/> really is (symlinks resolved by the kernel), or null if it
    /// cannot be opened as a directory.</summary>
    public static string? CanonicalDirectory(string path)
    {
        const int O_DIRECTORY = 0x10000;
        int fd = Interop.Open(path, Interop.O_PATH | O_DIRECTORY | Interop.O_CLOEXEC, 0);
        if (fd < 0) return null;
        using var handle = new SafeFdHandle(fd);
        try { return new FileInfo("/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture)).LinkTarget; }
        catch (IOException) { return null; }
    }

    private static string Describe(uint mode) => (mode & Interop.S_IFMT) switch
    {
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x4000 => "a directory",
        0x6000 => "a block device",
        0xA000 => "a symbolic link",
        0xC000 => "a socket",
        _ => "mode 0" + Convert.ToString(mode, 8),
    };
}
