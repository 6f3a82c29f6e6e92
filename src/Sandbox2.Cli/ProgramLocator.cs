namespace Sandbox2.Cli;

/// <summary>Finds PROGRAM on the host (as execvp does) and what must be mounted for it to start inside:
/// the file itself and, for an ELF binary, its interpreter and libraries; for a <c>#!</c> script, its interpreter.</summary>
internal static class ProgramLocator
{
    private const string DefaultHostPath = "/usr/local/bin:/usr/bin:/bin";

    /// <summary>The absolute host path of <paramref name="program"/>, or null when it cannot be found
    /// (the sandbox then reports PROGRAM_NOT_FOUND itself).</summary>
    public static string? Resolve(string program)
    {
        if (program.Length == 0)
            return null;
        if (program.Contains('/', StringComparison.Ordinal))
            return File.Exists(program) || Directory.Exists(program) ? Path.GetFullPath(program) : null;

        string searchPath = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } p ? p : DefaultHostPath;
        string? firstMatch = null;
        foreach (string dir in searchPath.Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? "." : dir, program);
            if (!File.Exists(candidate))
                continue;
            string full = Path.GetFullPath(candidate);
            if (IsExecutable(full))
                return full;
            firstMatch ??= full; // like execvp: a non-executable match is reported as such if nothing better follows
        }
        return firstMatch;
    }

    /// <summary>Mounts the resolved program and what it needs to start (read-only).</summary>
    /// <remarks>An ELF file gets <see cref="PolicyBuilder.AddLibrariesForBinary"/>; a script gets its <c>#!</c>
    /// interpreter (and that one's libraries). Anything else is mounted as it is; exec then fails and the sandbox
    /// reports why.</remarks>
    public static void AddProgramMounts(PolicyBuilder builder, string hostPath)
    {
        if (!File.Exists(hostPath))
            return;
        builder.AddFile(hostPath);
        if (!IsExecutable(hostPath))
            return;
        switch (ReadKind(hostPath, out string? interpreter))
        {
            case FileKind.Elf:
                builder.AddLibrariesForBinary(hostPath);
                break;
            case FileKind.Script when interpreter is not null && File.Exists(interpreter):
                builder.AddFile(interpreter);
                if (ReadKind(interpreter, out _) == FileKind.Elf)
                    builder.AddLibrariesForBinary(interpreter);
                break;
        }
    }

    private enum FileKind { Other, Elf, Script }

    private static FileKind ReadKind(string path, out string? interpreter)
    {
        interpreter = null;
        Span<byte> head = stackalloc byte[256];
        int n;
        try
        {
            using var file = File.OpenHandle(path);
            n = RandomAccess.Read(file, head, 0);
        }
        catch (IOException) { return FileKind.Other; }
        catch (UnauthorizedAccessException) { return FileKind.Other; }
        head = head[..n];
        if (head.StartsWith("\u007fELF"u8))
            return FileKind.Elf;
        if (!head.StartsWith("#!"u8))
            return FileKind.Other;
        ReadOnlySpan<byte> line = head[2..];
        int end = line.IndexOf((byte)'\n');
        if (end >= 0)
            line = line[..end];
        string text = System.Text.Encoding.UTF8.GetString(line).Trim();
        int space = text.IndexOfAny([' ', '\t']);
        interpreter = space >= 0 ? text[..space] : text;
        return interpreter.StartsWith('/') ? FileKind.Script : FileKind.Other;
    }

    private static bool IsExecutable(string path)
    {
        try
        {
            return (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
