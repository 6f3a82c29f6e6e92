using System.Runtime.InteropServices;

namespace Sandbox2;

// ptrace: a brief seize of a held thread to read its registers (stack traces). Every ptrace call for a
// tracee must come from the thread that seized it.
internal static partial class Interop
{
    internal const int PTRACE_DETACH = 17, PTRACE_GETREGS = 12, PTRACE_SEIZE = 0x4206, PTRACE_INTERRUPT = 0x4207;
    internal const int WNOHANG = 1, __WALL = 0x40000000;

    /// <summary>struct user_regs_struct (x86-64), 27 × 8 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct UserRegs
    {
        public ulong R15, R14, R13, R12, Rbp, Rbx, R11, R10, R9, R8, Rax, Rcx, Rdx, Rsi, Rdi, OrigRax,
            Rip, Cs, Eflags, Rsp, Ss, FsBase, GsBase, Ds, Es, Fs, Gs;
    }

    [LibraryImport("libc", EntryPoint = "ptrace", SetLastError = true)]
    internal static partial long Ptrace(int request, int pid, nint addr, nint data);

    [LibraryImport("libc", EntryPoint = "ptrace", SetLastError = true)]
    internal static partial long PtraceGetRegs(int request, int pid, nint addr, out UserRegs regs);

    /// <summary>waitpid(2); with __WALL a tracer can wait for a seized non-child.</summary>
    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    internal static partial int PtraceWaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();
}
