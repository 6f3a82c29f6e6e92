// Shared as source: compiled into Sandbox2 and Sandbox2.Client (see Interop.Socket.cs).
#if SANDBOX2_CLIENT
namespace Sandbox2.Client;
#else
namespace Sandbox2;
#endif

/// <summary>Classic BPF limits the kernel enforces for seccomp filters.</summary>
internal static partial class Interop
{
    /// <summary>The kernel's BPF_MAXINSNS: the longest classic BPF program seccomp accepts (the one home of 4096).</summary>
    internal const int BpfMaxInstructions = 4096;
}
