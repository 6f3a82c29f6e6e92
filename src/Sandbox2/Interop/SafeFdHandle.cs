using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>An owned Linux file descriptor (closed on dispose). fd 0 is valid; -1 is invalid.</summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle() : base(-1, ownsHandle: true) { }

    public SafeFdHandle(int fd, bool ownsHandle = true) : base(-1, ownsHandle) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw descriptor number (valid while the handle is alive).</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.Close((int)handle) == 0;
}
