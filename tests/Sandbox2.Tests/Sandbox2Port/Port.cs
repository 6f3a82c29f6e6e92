using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>What the ports of Sandbox2's tests share: its testcase programs (our C rewrites of Sandbox2's
/// <c>sandbox2/testcases/*.cc</c>, tests/testcases/s2*.c) and its test policies.</summary>
internal static partial class Port
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>A testcase program: its full name (<c>s2_personality</c>, <c>s2c_ipc</c>), or the Sandbox2 testcase's name
    /// without the <c>s2_</c> prefix (<c>minimal</c>).</summary>
    public static string Testcase(string name) => Sandboxes.Testcase(name.StartsWith("s2", StringComparison.Ordinal) ? name : "s2_" + name);

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

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreateRaw(string name, uint flags);

    /// <summary>A memfd named <paramref name="name"/> holding a copy of the file at <paramref name="path"/> (MFD_CLOEXEC),
    /// positioned at its start.</summary>
    public static SafeFileHandle MemfdWithContents(string name, string path)
    {
        int fd = MemfdCreateRaw(name, 1 /* MFD_CLOEXEC */);
        if (fd < 0) throw new IOException($"memfd_create: errno {Marshal.GetLastPInvokeError()}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        RandomAccess.Write(handle, File.ReadAllBytes(path), 0);
        return handle;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int PollRaw(long* fds, ulong count, int timeoutMs);

    /// <summary>A pidfd for <paramref name="pid"/> (null if it is gone).</summary>
    public static SafeFileHandle? PidFd(int pid)
    {
        int fd = Interop.PidfdOpen(pid, 0);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Waits until the process of <paramref name="pidfd"/> has exited (the pidfd is readable), at most
    /// <paramref name="limit"/> (a safety net); true if it did.</summary>
    public static unsafe bool WaitExited(SafeFileHandle pidfd, TimeSpan limit)
    {
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (true)
        {
            long entry = (uint)(int)pidfd.DangerousGetHandle() | (1L /* POLLIN */ << 32); // struct pollfd { int fd; short events, revents; }
            int left = (int)Math.Max(0, deadline - Environment.TickCount64);
            int r = PollRaw(&entry, 1, left);
            if (r > 0) return true;
            if (r == 0) return false;
            if (Marshal.GetLastPInvokeError() != 4 /* EINTR */) throw new IOException($"poll: errno {Marshal.GetLastPInvokeError()}");
        }
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



    /// <summary>Sandbox2's <c>CreateDefaultPermissiveTestPolicy(path)</c>: every syscall allowed, PROT_EXEC mappings too
    /// (the always-on rules still apply: ptrace, bpf, namespace-making clone/unshare, ...), the program's libraries mounted.</summary>
    public static PolicyBuilder Permissive(string path) =>
        new PolicyBuilder().DefaultAction(SyscallAction.Allow).AllowMapExec().AddLibrariesForBinary(path);

    /// <summary>Runs <paramref name="path"/> with <paramref name="args"/> (after argv[0]) under <paramref name="policy"/>.</summary>
    public static Task<Sandboxes.Outcome> Run(string path, Sandbox2.Policy policy, params string[] args) =>
        Sandboxes.Async(new Executor(path, args), policy);

    /// <summary>Sandbox2's namespace_test <c>RunSandboxeeWithArgsAndPolicy</c>: runs the namespace testcase, asserts it
    /// ended OK with exit 0 and returns what it reported (our testcase prints one entry per line).</summary>
    public static async Task<string[]> Entries(string path, Sandbox2.Policy policy, params string[] args)
    {
        var o = await Run(path, policy, args);
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        return o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Asserts a violation of syscall <paramref name="number"/>.</summary>
    public static void AssertViolation(Sandboxes.Outcome o, int number, SyscallArch arch = SyscallArch.X86_64)
    {
        Assert.True(o.Result.Status == SandboxStatus.Violation, o.ToString());
        Assert.NotNull(o.Result.Violation);
        Assert.Equal(number, o.Result.Violation!.Number);
        Assert.Equal(arch, o.Result.Violation.Arch);
    }

    /// <summary>Whether 32-bit syscalls (int 0x80) reach this kernel at all (IA-32 emulation; the doctor's probe).</summary>
    public static bool Ia32Emulation { get; } =
        new Sandbox2.Diagnostics.Probes(ForkServerLocator.Locate().Path!).Errno("ia32", "int80") == 0;

    /// <summary>Asserts a normal exit with <paramref name="code"/>.</summary>
    public static void AssertExit(Sandboxes.Outcome o, int code) =>
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == code, $"expected exit {code}: {o}");
}
