using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Client;

namespace Sandbox2;

/// <summary>
/// Shared memory for large data (Sandbox2's <c>Buffer</c>, renamed: <c>Buffer</c> would clash with <see cref="System.Buffer"/> under implicit usings): an unlinked memfd mapped MAP_SHARED.
/// Create it on one side, pass <see cref="Fd"/> over <see cref="Comms"/> (or map it into the
/// sandboxee), and open it on the other side with <see cref="CreateFromFd"/>. The executor must
/// treat the contents as untrusted: the sandboxee can change them at any time.
/// </summary>
public sealed unsafe class SharedBuffer : IDisposable
{
    readonly SafeFileHandle _fd;
    nint _address;
    long _size;

    SharedBuffer(SafeFileHandle fd, long size)
    {
        _fd = fd;
        _size = size;
        if (size == 0) return;
        _address = Interop.Mmap(0, (nuint)size, Interop.PROT_READ | Interop.PROT_WRITE, Interop.MAP_SHARED, fd, 0);
        if (_address == Interop.MAP_FAILED)
        {
            int errno = Marshal.GetLastPInvokeError();
            _address = 0;
            throw new IOException($"SharedBuffer: mmap of {size} bytes failed: {Interop.StrError(errno)}");
        }
    }

    /// <summary>A new zero-filled buffer of <paramref name="size"/> bytes backed by memfd <paramref name="name"/>.</summary>
    public static SharedBuffer CreateWithSize(long size, string name = "sandbox2::Buffer")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, int.MaxValue);
        ArgumentNullException.ThrowIfNull(name);
        int raw = Interop.MemfdCreate(name, Interop.MFD_CLOEXEC);
        if (raw < 0)
            throw new IOException($"SharedBuffer: memfd_create(\"{name}\"): {Interop.StrError(Marshal.GetLastPInvokeError())}");
        var fd = new SafeFileHandle(raw, ownsHandle: true);
        try
        {
            if (Interop.FTruncate(fd, size) != 0)
                throw new IOException($"SharedBuffer: ftruncate to {size} bytes: {Interop.StrError(Marshal.GetLastPInvokeError())}");
            return new SharedBuffer(fd, size);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Maps an existing memfd (or any shared-mappable file), taking ownership of <paramref name="fd"/>. Size defaults to the file's size.</summary>
    public static SharedBuffer CreateFromFd(SafeFileHandle fd, long? size = null)
    {
        ArgumentNullException.ThrowIfNull(fd);
        long fileSize;
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            Interop.Stat st;
            if (Interop.FStat(fd.DangerousGetHandle().ToInt32(), &st) != 0)
                throw new IOException($"SharedBuffer: fstat: {Interop.StrError(Marshal.GetLastPInvokeError())}");
            fileSize = st.Size;
        }
        finally { if (added) fd.DangerousRelease(); }
        long wanted = size ?? fileSize;
        if (wanted < 0 || wanted > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(size), $"SharedBuffer: size {wanted} is out of range");
        if (wanted > fileSize)
            throw new IOException($"SharedBuffer: the file has {fileSize} bytes, fewer than the {wanted} asked for");
        return new SharedBuffer(fd, wanted);
    }

    /// <summary>The memfd (pass it with <see cref="Comms.SendFd"/>).</summary>
    public SafeFileHandle Fd => _fd;

    /// <summary>The mapped size in bytes.</summary>
    public long Size => _size;

    /// <summary>The mapped bytes.</summary>
    public Span<byte> Data
    {
        get
        {
            ObjectDisposedException.ThrowIf(_fd.IsClosed, this);
            return _size == 0 ? [] : new Span<byte>((void*)_address, (int)_size);
        }
    }

    /// <summary>Grows the buffer to <paramref name="newSize"/> bytes (Sandbox2's <c>Buffer::Expand</c>): the same memfd
    /// (<see cref="Fd"/> keeps its number), the data kept, the new bytes zero. The backing file is only ever grown, never
    /// truncated: a file the other side already made larger keeps its size and contents.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="newSize"/> is below <see cref="Size"/> or above <see cref="int.MaxValue"/>.</exception>
    /// <exception cref="IOException">The file could not be grown or mapped (the old mapping is then kept).</exception>
    public void Expand(long newSize)
    {
        ObjectDisposedException.ThrowIf(_fd.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(newSize, _size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(newSize, int.MaxValue);
        if (newSize == _size) return;
        long fileSize;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            Interop.Stat st;
            if (Interop.FStat(_fd.DangerousGetHandle().ToInt32(), &st) != 0)
                throw new IOException($"SharedBuffer: fstat: {Interop.StrError(Marshal.GetLastPInvokeError())}");
            fileSize = st.Size;
        }
        finally { if (added) _fd.DangerousRelease(); }
        if (fileSize < newSize && Interop.FTruncate(_fd, newSize) != 0)
            throw new IOException($"SharedBuffer: growing the file to {newSize} bytes: {Interop.StrError(Marshal.GetLastPInvokeError())}");
        nint address = Interop.Mmap(0, (nuint)newSize, Interop.PROT_READ | Interop.PROT_WRITE, Interop.MAP_SHARED, _fd, 0);
        if (address == Interop.MAP_FAILED)
            throw new IOException($"SharedBuffer: mmap of {newSize} bytes failed: {Interop.StrError(Marshal.GetLastPInvokeError())}");
        if (_address != 0) _ = Interop.Munmap(_address, (nuint)_size);
        _address = address;
        _size = newSize;
    }

    /// <summary>Unmaps the buffer and closes the memfd.</summary>
    public void Dispose()
    {
        if (_address != 0)
        {
            _ = Interop.Munmap(_address, (nuint)_size);
            _address = 0;
        }
        _fd.Dispose();
    }
}
