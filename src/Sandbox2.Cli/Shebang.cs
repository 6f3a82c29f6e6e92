using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Cli;

/// <summary>
/// A <c>#!</c> script (Debian's <c>gunzip</c>, <c>zcat</c>, <c>which</c>, ...). The sandbox starts its program with
/// <c>execveat</c> from a close-on-exec descriptor, which a script's interpreter could not reopen, so the CLI does what
/// the kernel would: reads the <c>#!</c> line on the host, resolves the interpreter there, mounts it with its
/// libraries and the script, and starts <c>INTERPRETER [ARG] SCRIPT ARGS...</c>. The file is treated as hostile:
/// opened without following a symlink in its last component, a regular file only, at most the kernel's 256 bytes
/// read (BINPRM_BUF_SIZE), the interpreter an absolute path.
/// </summary>
/// <param name="ScriptPath">The script's real path on the host (also its path inside).</param>
/// <param name="Interpreter">The interpreter's path on the host (also its path inside).</param>
/// <param name="Argument">The optional single argument on the <c>#!</c> line (e.g. <c>-f</c> of <c>#!/bin/sed -f</c>).</param>
internal sealed partial record Shebang(string ScriptPath, string Interpreter, string? Argument)
{
    /// <summary>BINPRM_BUF_SIZE: the kernel reads this much of a file to decide how to run it.</summary>
    internal const int MaxLineBytes = 256;

    private const int O_RDONLY = 0, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>Whether the open descriptor is a regular file (statx: the same layout on every architecture).</summary>
    private static unsafe bool IsRegularFile(int fd)
    {
        const int AT_EMPTY_PATH = 0x1000;
        const uint STATX_TYPE = 0x1;
        byte* buffer = stackalloc byte[256];
        if (Statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, buffer) != 0) return false;
        ushort mode = *(ushort*)(buffer + 0x1C); // stx_mode
        return (mode & 0xF000) == 0x8000; // S_IFREG
    }

    /// <summary>The arguments after the interpreter: <c>[ARG] SCRIPT ARGS...</c>.</summary>
    public IReadOnlyList<string> InterpreterArgs(IReadOnlyList<string> scriptArgs) =>
        [.. Argument is null ? Array.Empty<string>() : [Argument], ScriptPath, .. scriptArgs];

    /// <summary>Null if <paramref name="hostPath"/> is not a script (an ELF binary, anything else); the script's
    /// interpreter otherwise. Throws <see cref="SetupException"/> for a script that cannot be run so.</summary>
    public static Shebang? Read(string hostPath)
    {
        string real;
        try
        {
            real = File.ResolveLinkTarget(hostPath, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(hostPath);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }

        int fd = Open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
        if (fd < 0) return null; // not readable: exec reports what is wrong
        Span<byte> head = stackalloc byte[MaxLineBytes];
        int n;
        using (var file = new SafeFileHandle(fd, ownsHandle: true))
        {
            if (!IsRegularFile(fd)) return null; // a directory, FIFO or device is no script
            try
            {
                n = RandomAccess.Read(file, head, 0);
            }
            catch (IOException) { return null; }
            catch (UnauthorizedAccessException) { return null; }
        }
        if (n < 2 || head[0] != '#' || head[1] != '!') return null;

        var line = head[2..n];
        int end = line.IndexOf((byte)'\n');
        if (end < 0)
        {
            if (n == MaxLineBytes)
                throw new SetupException($"{hostPath}: its #! line is longer than {MaxLineBytes - 1} bytes");
            end = line.Length; // a script that is only a #! line
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(line[..end]).Trim(' ', '\t', '\r');
        }
        catch (DecoderFallbackException)
        {
            throw new SetupException($"{hostPath}: its #! line is not valid UTF-8");
        }
        if (text.Contains('\0', StringComparison.Ordinal))
            throw new SetupException($"{hostPath}: its #! line contains a NUL byte");
        int space = text.IndexOfAny([' ', '\t']);
        string interpreter = space < 0 ? text : text[..space];
        string? argument = space < 0 ? null : text[(space + 1)..].Trim(' ', '\t');
        if (argument is { Length: 0 }) argument = null;
        if (interpreter.Length == 0)
            throw new SetupException($"{hostPath}: its #! line names no interpreter");
        if (!interpreter.StartsWith('/'))
            throw new SetupException($"{hostPath}: its #! interpreter '{interpreter}' is not an absolute path");

        // #!/usr/bin/env NAME: env would search the sandbox's PATH, where only what is mounted exists; resolve NAME on
        // the host instead and run it directly.
        if (Path.GetFileName(interpreter) == "env" && argument is { } name && !name.StartsWith('-') && !name.Contains(' ', StringComparison.Ordinal))
        {
            string? found = FindOnPath(name);
            if (found is null)
                throw new SetupException($"{hostPath}: its #! line runs '{name}' through env, and '{name}' is not on this host's PATH");
            interpreter = found;
            argument = null;
        }
        if (!File.Exists(interpreter))
            throw new SetupException($"{hostPath}: its #! interpreter {interpreter} does not exist on this host");
        if (Read(interpreter) is not null)
            throw new SetupException($"{hostPath}: its #! interpreter {interpreter} is itself a script; name a program");
        return new Shebang(real, interpreter, argument);
    }

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? Executor.DefaultPath).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
