using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>One x86-64 syscall: number, name, argument names (their count is the argument count).</summary>
public sealed record SyscallInfo(int Number, string Name, IReadOnlyList<string> ArgNames)
{
    /// <summary>The number of arguments the syscall takes.</summary>
    public int ArgCount => ArgNames.Count;
}

/// <summary>Syscall names and numbers: x86-64 (with argument names), i386 and x32 (names only).
/// Generated from the machine's kernel headers and the running kernel (see SyscallTable.gen.py).</summary>
public static partial class SyscallTable
{
    // Built after the data arrays (a separate class: field initialisers across partial files have no defined order).
    private static class Index
    {
        internal static readonly FrozenDictionary<int, SyscallInfo> ByNumber64 = X86_64Data.ToFrozenDictionary(s => s.Number);
        internal static readonly FrozenDictionary<string, SyscallInfo> ByName64 = X86_64Data.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
        internal static readonly FrozenDictionary<int, string> ByNumber32 = X86_32Data.ToFrozenDictionary(s => s.Number, s => s.Name);
        internal static readonly FrozenDictionary<int, string> ByNumberX32 = X32Data.ToFrozenDictionary(s => s.Number, s => s.Name);
        internal static readonly FrozenSet<string> Names32 = X86_32Data.Select(s => s.Name).Concat(X32Data.Select(s => s.Name)).ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>All x86-64 syscalls, by number.</summary>
    public static IReadOnlyList<SyscallInfo> X86_64 => X86_64Data;

    /// <summary>The x86-64 syscall called <paramref name="name"/>, or null.</summary>
    public static SyscallInfo? Find(string name) => Index.ByName64.GetValueOrDefault(name);

    /// <summary>The x86-64 syscall number <paramref name="number"/>, or null.</summary>
    public static SyscallInfo? Find(int number) => Index.ByNumber64.GetValueOrDefault(number);

    /// <summary>The x86-64 number of <paramref name="name"/>; throws <see cref="PolicyException"/> naming an unknown syscall.</summary>
    public static int GetNumber(string name) =>
        Find(name)?.Number ?? throw new PolicyException($"unknown syscall '{name}' (not an x86-64 syscall name)");

    /// <summary>Whether <paramref name="name"/> is an x86-32 or x32 syscall name (for reporting names that are not x86-64 ones).</summary>
    internal static bool IsKnown32BitName(string name) => Index.Names32.Contains(name);

    /// <summary>Name of syscall <paramref name="number"/> in <paramref name="arch"/>, or null when unknown.</summary>
    public static string? GetName(SyscallArch arch, int number) => arch switch
    {
        SyscallArch.X86_64 => Index.ByNumber64.GetValueOrDefault(number)?.Name,
        SyscallArch.X86_32 => Index.ByNumber32.GetValueOrDefault(number),
        SyscallArch.X32 => Index.ByNumberX32.GetValueOrDefault(number) ?? (number < 512 ? Index.ByNumber64.GetValueOrDefault(number)?.Name : null),
        _ => null,
    };
}
