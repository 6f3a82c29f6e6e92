using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>The names Kafel (and so the policy language, without an alias warning) gives the x86-64 syscalls whose
/// libseccomp/strace name differs: the kernel's internal names.</summary>
internal static class KafelNames
{
    private static readonly FrozenDictionary<string, string> s_kafelName = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["stat"] = "newstat",
        ["fstat"] = "newfstat",
        ["lstat"] = "newlstat",
        ["uname"] = "newuname",
        ["umount2"] = "umount",
        ["sendfile"] = "sendfile64",
        ["_sysctl"] = "sysctl",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The policy-language name of syscall <paramref name="number"/>: Kafel's name, the table's name, or <c>SYSCALL[n]</c>.</summary>
    public static string Of(int number)
    {
        if (SyscallTable.Find(number) is not { } info) return $"SYSCALL[{number}]";
        return s_kafelName.GetValueOrDefault(info.Name, info.Name);
    }
}
