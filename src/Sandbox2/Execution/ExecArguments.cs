namespace Sandbox2;

/// <summary>
/// The kernel's limits on what <c>execve</c> accepts (fs/exec.c), checked before a sandbox is started so that a too
/// long command line is a precise SETUP_ERROR, not an arbitrary cap: every argument and environment string at most
/// <see cref="MaxStringBytes"/> (MAX_ARG_STRLEN, 32 pages) with its NUL; all strings plus one pointer each at most a
/// quarter of the stack limit (capped at 6 MiB, at least 128 KiB: ARG_MAX).
/// </summary>
internal static class ExecArguments
{
    /// <summary>MAX_ARG_STRLEN: the longest single argument or environment entry, NUL included.</summary>
    internal const int MaxStringBytes = 32 * 4096;

    /// <summary>The total the kernel allows for this process's stack limit (the sandboxee inherits it).</summary>
    internal static long TotalLimit()
    {
        const long stkLim = 8L << 20, argMax = 128L << 10;
        long limit = stkLim / 4 * 3;
        const int RLIMIT_STACK = 3;
        var stack = default(Interop.RLimit);
        if (Interop.GetRLimit(RLIMIT_STACK, ref stack) == 0 && stack.Current != ulong.MaxValue)
            limit = Math.Min(limit, (long)(stack.Current / 4));
        return Math.Max(limit, argMax);
    }

    /// <summary>Null when <c>execve</c> would accept these strings; otherwise a one-line reason.</summary>
    internal static string? Check(IReadOnlyList<string> argv, IReadOnlyList<string> environment)
    {
        long total = (long)(Math.Max(argv.Count, 1) + environment.Count) * IntPtr.Size;
        for (int i = 0; i < argv.Count; i++)
        {
            int bytes = System.Text.Encoding.UTF8.GetByteCount(argv[i]) + 1;
            if (bytes > MaxStringBytes) return $"argument {i} is {bytes} bytes long; the kernel takes at most {MaxStringBytes} bytes per argument (MAX_ARG_STRLEN)";
            total += bytes;
        }
        foreach (string entry in environment)
        {
            int bytes = System.Text.Encoding.UTF8.GetByteCount(entry) + 1;
            if (bytes > MaxStringBytes) return $"an environment entry is {bytes} bytes long; the kernel takes at most {MaxStringBytes} bytes per entry (MAX_ARG_STRLEN)";
            total += bytes;
        }
        long limit = TotalLimit();
        return total > limit
            ? $"argument list too long: {argv.Count} arguments and {environment.Count} environment entries take {total} bytes; the kernel takes at most {limit} (a quarter of the stack limit, 'ulimit -s')"
            : null;
    }
}
