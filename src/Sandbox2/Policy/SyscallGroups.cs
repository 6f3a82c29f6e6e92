using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>Named syscall groups in systemd's style (<c>@basic-io</c>, <c>@file-system</c>, ...), usable in the policy
/// language as <c>USE @name</c> (allows the group) and inside an action block (<c>ERRNO(1) { @network-io }</c>).
/// <para>Minimal placeholder: the full set and its documentation come with the built-in policies (issue 11, item 2);
/// the interface (<see cref="TryGet"/>, names with the leading <c>@</c>) is what the policy language uses.</para></summary>
public static class SyscallGroups
{
    private static readonly FrozenDictionary<string, string[]> Groups = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["@basic-io"] = ["close", "close_range", "dup", "dup2", "dup3", "lseek", "pread64", "preadv", "preadv2", "pwrite64",
            "pwritev", "pwritev2", "read", "readv", "write", "writev"],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The syscall names (x86-64, the names <see cref="SyscallTable"/> knows) of group <paramref name="name"/>
    /// (with its leading <c>@</c>).</summary>
    public static bool TryGet(string name, out IReadOnlyList<string> syscallNames)
    {
        if (name is not null && Groups.TryGetValue(name, out var names)) { syscallNames = names; return true; }
        syscallNames = [];
        return false;
    }

    /// <summary>The names of all groups (with their leading <c>@</c>).</summary>
    public static IEnumerable<string> Names => Groups.Keys;
}
