using System.Text;

namespace Sandbox2;

/// <summary>Names for the values a learned policy lists, written as comments beside the numbers
/// (<c>cmd == 0x5401 /* TCGETS */</c>), so that the text reads well and stays valid Kafel.</summary>
internal static class LearnedConstants
{
    private static readonly Dictionary<ulong, string> s_ioctl = new()
    {
        [0x5401] = "TCGETS", [0x5402] = "TCSETS", [0x5403] = "TCSETSW", [0x5404] = "TCSETSF", [0x540F] = "TIOCGPGRP",
        [0x5410] = "TIOCSPGRP", [0x5413] = "TIOCGWINSZ", [0x5414] = "TIOCSWINSZ", [0x541B] = "FIONREAD", [0x5421] = "FIONBIO",
        [0x5450] = "FIONCLEX", [0x5451] = "FIOCLEX", [0x80045430] = "TIOCGPTN", [0x40049409] = "FICLONE",
    };
    private static readonly Dictionary<ulong, string> s_fcntl = new()
    {
        [0] = "F_DUPFD", [1] = "F_GETFD", [2] = "F_SETFD", [3] = "F_GETFL", [4] = "F_SETFL", [5] = "F_GETLK", [6] = "F_SETLK",
        [7] = "F_SETLKW", [1030] = "F_DUPFD_CLOEXEC", [1031] = "F_SETPIPE_SZ", [1032] = "F_GETPIPE_SZ", [1033] = "F_ADD_SEALS",
        [1034] = "F_GET_SEALS",
    };
    private static readonly Dictionary<ulong, string> s_family = new()
    {
        [1] = "AF_UNIX", [2] = "AF_INET", [10] = "AF_INET6", [16] = "AF_NETLINK", [17] = "AF_PACKET",
    };
    private static readonly Dictionary<ulong, string> s_archPrctl = new()
    {
        [0x1001] = "ARCH_SET_GS", [0x1002] = "ARCH_SET_FS", [0x1003] = "ARCH_GET_FS", [0x1004] = "ARCH_GET_GS",
        [0x1011] = "ARCH_GET_CPUID", [0x1012] = "ARCH_SET_CPUID", [0x1021] = "ARCH_GET_XCOMP_SUPP",
        [0x1022] = "ARCH_GET_XCOMP_PERM", [0x1023] = "ARCH_REQ_XCOMP_PERM",
    };
    private static readonly Dictionary<ulong, string> s_prctl = new()
    {
        [1] = "PR_SET_PDEATHSIG", [2] = "PR_GET_PDEATHSIG", [3] = "PR_GET_DUMPABLE", [4] = "PR_SET_DUMPABLE",
        [15] = "PR_SET_NAME", [16] = "PR_GET_NAME", [23] = "PR_CAPBSET_READ", [38] = "PR_SET_NO_NEW_PRIVS",
        [39] = "PR_GET_NO_NEW_PRIVS", [0x53564d41] = "PR_SET_VMA",
    };
    private static readonly (ulong Bit, string Name)[] s_clone =
    [
        (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"), (0x1000, "CLONE_PIDFD"),
        (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"), (0x40000, "CLONE_SYSVSEM"),
        (0x80000, "CLONE_SETTLS"), (0x100000, "CLONE_PARENT_SETTID"), (0x200000, "CLONE_CHILD_CLEARTID"),
        (0x1000000, "CLONE_CHILD_SETTID"),
    ];
    private static readonly (ulong Bit, string Name)[] s_prot = [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];
    private static readonly (ulong Bit, string Name)[] s_map =
    [
        (0x1, "MAP_SHARED"), (0x2, "MAP_PRIVATE"), (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x100, "MAP_GROWSDOWN"),
        (0x800, "MAP_DENYWRITE"), (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"), (0x20000, "MAP_STACK"),
        (0x100000, "MAP_FIXED_NOREPLACE"),
    ];
    private static readonly (ulong Bit, string Name)[] s_open =
    [
        (0x1, "O_WRONLY"), (0x2, "O_RDWR"), (0x40, "O_CREAT"), (0x80, "O_EXCL"), (0x100, "O_NOCTTY"), (0x200, "O_TRUNC"),
        (0x400, "O_APPEND"), (0x800, "O_NONBLOCK"), (0x8000, "O_LARGEFILE"), (0x10000, "O_DIRECTORY"), (0x20000, "O_NOFOLLOW"),
        (0x80000, "O_CLOEXEC"), (0x200000, "O_PATH"),
    ];

    /// <summary>A name for <paramref name="value"/> of argument <paramref name="index"/> of <paramref name="syscall"/>, or null.</summary>
    public static string? Describe(string syscall, int index, ulong value) => (syscall, index) switch
    {
        ("ioctl", 1) => s_ioctl.GetValueOrDefault(value),
        ("fcntl", 1) => s_fcntl.GetValueOrDefault(value),
        ("socket" or "socketpair", 0) => s_family.GetValueOrDefault(value),
        ("arch_prctl", 0) => s_archPrctl.GetValueOrDefault(value),
        ("prctl", 0) => s_prctl.GetValueOrDefault(value),
        ("clone", 0) => Bits(value, s_clone, signalInLowByte: true),
        ("mmap" or "mprotect" or "pkey_mprotect", 2) => value == 0 ? "PROT_NONE" : Bits(value, s_prot),
        ("mmap", 3) => Bits(value, s_map),
        ("open", 1) or ("openat", 2) => value == 0 ? "O_RDONLY" : Bits(value, s_open),
        _ => null,
    };

    /// <summary><c>A|B|0x..</c> for the bits of <paramref name="value"/> (null when none has a name).</summary>
    private static string? Bits(ulong value, (ulong Bit, string Name)[] names, bool signalInLowByte = false)
    {
        var text = new StringBuilder();
        ulong rest = value;
        foreach (var (bit, name) in names)
        {
            if ((rest & bit) == 0) continue;
            if (text.Length > 0) text.Append('|');
            text.Append(name);
            rest &= ~bit;
        }
        if (signalInLowByte && (rest & 0xff) != 0)
        {
            if (text.Length > 0) text.Append('|');
            text.Append((rest & 0xff) == 17 ? "SIGCHLD" : $"signal {rest & 0xff}");
            rest &= ~0xffUL;
        }
        if (text.Length == 0) return null;
        if (rest != 0) text.Append("|0x").Append(rest.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        return text.ToString();
    }
}
