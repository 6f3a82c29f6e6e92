using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>What the ports of Sandbox2's tests share: its testcase programs (our C rewrites, tests/testcases/s2*.c)
/// and its permissive test policy (<c>DangerDefaultAllowAll</c>: every syscall allowed, the program's libraries mounted).</summary>
internal static partial class Port
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string Testcase(string name) => Sandboxes.Testcase(name);

    /// <summary>Sandbox2's <c>PolicyBuilder().DangerDefaultAllowAll()</c> for <paramref name="program"/>.</summary>
    public static PolicyBuilder AllowAll(string program) => Sandboxes.Policy(program).DefaultAction(SyscallAction.Allow);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int DupRaw(int fd);

    /// <summary>dup(2) of <paramref name="fd"/>, owned by the caller.</summary>
    public static SafeFileHandle Dup(SafeHandle fd)
    {
        int r = DupRaw((int)fd.DangerousGetHandle());
        if (r < 0) throw new IOException($"dup: errno {Marshal.GetLastPInvokeError()}");
        return new SafeFileHandle(r, ownsHandle: true);
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static unsafe partial int SocketPairRaw(int domain, int type, int protocol, int* sv);

    /// <summary>A plain AF_UNIX stream socketpair (no SO_PASSCRED), as Sandbox2's comms_test makes by default.</summary>
    public static unsafe (Comms A, Comms B) PlainPair()
    {
        int* sv = stackalloc int[2];
        if (SocketPairRaw(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | 0x80000 /* SOCK_CLOEXEC */, 0, sv) != 0)
            throw new IOException($"socketpair: errno {Marshal.GetLastPInvokeError()}");
        return (new Comms(new System.Net.Sockets.SafeSocketHandle(sv[0], true)), new Comms(new System.Net.Sockets.SafeSocketHandle(sv[1], true)));
    }

    /// <summary>Runs <paramref name="executor"/> under <paramref name="policy"/> and returns its result (bounded).</summary>
    public static async Task<SandboxResult> Run(Executor executor, Sandbox2.Policy policy, Notify? notify = null)
    {
        await using var sandbox = new Sandbox(executor, policy, notify);
        return await sandbox.RunAsync().WaitAsync(Timeout);
    }
}
