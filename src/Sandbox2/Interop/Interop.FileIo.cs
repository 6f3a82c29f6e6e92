using System.Runtime.InteropServices;

namespace Sandbox2;

// Small file I/O for kernel interface files (cgroupfs) and pipes: mkdir, rmdir, read, write, fcntl. Raw calls:
// a cgroup file is read or written with one syscall each, no FileStream, no locks.
internal static partial class Interop
{
    internal const int O_WRONLY = 1, O_RDWR = 2, O_DIRECTORY = 0x10000; // O_NONBLOCK: Interop.Stat.cs
    internal const int EINTR = 4, EAGAIN = 11, EBUSY = 16, EEXIST = 17, ENOENT = 2, ESRCH = 3, EPERM = 1, EACCES = 13, EROFS = 30;
    internal const int F_GETFL = 3, F_SETFL = 4;

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MkDir(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RmDir(string path);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(SafeHandle fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(SafeHandle fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    internal static unsafe partial nint PRead(SafeHandle fd, byte* buffer, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(SafeHandle fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    internal static unsafe partial int Pipe2(int* fds, int flags);

    /// <summary>Writes <paramref name="text"/> to the file at <paramref name="path"/> in one write(2). Returns 0 or the errno.</summary>
    internal static unsafe int WriteFile(string path, string text)
    {
        int fd = Open(path, O_WRONLY | O_CLOEXEC, 0);
        if (fd < 0) return Marshal.GetLastPInvokeError();
        using var h = new SafeFdHandle(fd);
        byte[] b = System.Text.Encoding.ASCII.GetBytes(text);
        fixed (byte* p = b)
            return Write(h, p, b.Length) == b.Length ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>The contents of a small kernel file (at most 4 KiB), or null when it cannot be read.</summary>
    internal static unsafe string? ReadSmallFile(string path)
    {
        int fd = Open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) return null;
        using var h = new SafeFdHandle(fd);
        return ReadSmallFile(h);
    }

    /// <summary>The contents of an open small kernel file, read from offset 0 (at most 4 KiB), or null.</summary>
    internal static unsafe string? ReadSmallFile(SafeHandle h)
    {
        byte* buf = stackalloc byte[4096];
        nint n = PRead(h, buf, 4096, 0);
        return n < 0 ? null : System.Text.Encoding.ASCII.GetString(buf, (int)n);
    }
}

internal static partial class Interop
{
    /// <summary>The hard limit of <paramref name="resource"/> for this process (RLIM_INFINITY when it cannot be read).</summary>
    internal static ulong GetRlimitHard(int resource)
    {
        var l = default(RLimit);
        return GetRLimit(resource, ref l) == 0 ? l.Maximum : ulong.MaxValue;
    }
}
