using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>What kind of value a learned argument holds, which decides how a learned policy conditions on it.</summary>
public enum ArgumentKind
{
    /// <summary>A file descriptor (<c>write</c>'s <c>fd</c>): a condition lists the descriptors seen, when they are few.</summary>
    Fd,
    /// <summary>One of a set of values (an ioctl request, an <c>fcntl</c> command, a socket family): the values seen, when few.</summary>
    Enum,
    /// <summary>A bit set (<c>openat</c>'s flags, <c>clone</c>'s flags, <c>mmap</c>'s <c>prot</c>): the values seen when few,
    /// else no bit outside those seen.</summary>
    Flags,
}

/// <summary>An argument learn mode records the values of: syscall argument <see cref="Index"/>, of kind
/// <see cref="Kind"/>; <see cref="Is32Bit"/> when the kernel declares it <c>int</c>-sized (compared on its low 32 bits).</summary>
/// <param name="Index">The argument's position, 0..5.</param>
/// <param name="Kind">How the values are turned into a condition.</param>
/// <param name="Is32Bit">The kernel's type is 32-bit (int, unsigned int): values are recorded and compared on the low 32 bits.</param>
public readonly record struct LearnableArgument(int Index, ArgumentKind Kind, bool Is32Bit)
{
    /// <summary>The arguments recorded per x86-64 syscall number (types from the kernel's SYSCALL_DEFINE).</summary>
    internal static FrozenDictionary<int, LearnableArgument[]> ByNumber { get; } = Build();

    /// <summary>The learnable arguments of syscall <paramref name="number"/> (empty when none is learned).</summary>
    public static IReadOnlyList<LearnableArgument> Of(int number) => ByNumber.GetValueOrDefault(number) ?? [];

    private static FrozenDictionary<int, LearnableArgument[]> Build()
    {
        const ArgumentKind F = ArgumentKind.Fd, E = ArgumentKind.Enum, B = ArgumentKind.Flags;
        var table = new (string Name, LearnableArgument[] Args)[]
        {
            // descriptors of the stream calls
            ("read", [new(0, F, true)]), ("readv", [new(0, F, false)]), ("pread64", [new(0, F, true)]),
            ("write", [new(0, F, true)]), ("writev", [new(0, F, false)]), ("pwrite64", [new(0, F, true)]),
            ("sendfile", [new(0, F, true)]),
            ("ioctl", [new(0, F, true), new(1, E, true)]),
            ("fcntl", [new(1, E, true)]),
            // sockets
            ("socket", [new(0, E, true), new(1, E, true), new(2, E, true)]),
            ("socketpair", [new(0, E, true), new(1, E, true)]),
            ("setsockopt", [new(1, E, true), new(2, E, true)]), ("getsockopt", [new(1, E, true), new(2, E, true)]),
            // processes and memory
            ("clone", [new(0, B, false)]), ("unshare", [new(0, B, false)]),
            ("mmap", [new(2, B, false), new(3, B, false)]), ("mprotect", [new(2, B, false)]),
            ("pkey_mprotect", [new(2, B, false)]), ("madvise", [new(2, E, true)]),
            ("prctl", [new(0, E, true)]), ("arch_prctl", [new(0, E, true)]),
            ("wait4", [new(2, B, true)]), ("waitid", [new(0, E, true), new(3, B, true)]),
            ("prlimit64", [new(1, E, true)]), ("getrlimit", [new(0, E, true)]), ("setrlimit", [new(0, E, true)]),
            ("personality", [new(0, E, true)]), ("membarrier", [new(0, E, true)]),
            ("futex", [new(1, E, true)]),
            // signals and time
            ("rt_sigaction", [new(0, E, true)]), ("rt_sigprocmask", [new(0, E, true)]),
            ("kill", [new(1, E, true)]), ("tgkill", [new(2, E, true)]), ("tkill", [new(1, E, true)]),
            ("clock_gettime", [new(0, E, true)]), ("clock_getres", [new(0, E, true)]), ("clock_nanosleep", [new(0, E, true)]),
            // files
            ("open", [new(1, B, true)]), ("openat", [new(2, B, true)]),
            ("lseek", [new(2, E, true)]), ("fadvise64", [new(3, E, true)]),
            ("pipe2", [new(1, B, true)]), ("dup3", [new(2, B, true)]), ("accept4", [new(3, B, true)]),
            ("eventfd2", [new(1, B, true)]), ("epoll_create1", [new(0, B, true)]), ("epoll_ctl", [new(1, E, true)]),
            ("inotify_init1", [new(0, B, true)]), ("memfd_create", [new(1, B, true)]),
            ("getrandom", [new(2, B, true)]),
        };
        var byNumber = new Dictionary<int, LearnableArgument[]>();
        foreach (var (name, args) in table)
        {
            if (SyscallTable.Find(name) is { } info) byNumber[info.Number] = args;
        }
        return byNumber.ToFrozenDictionary();
    }
}
