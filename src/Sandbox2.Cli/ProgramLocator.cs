namespace Sandbox2.Cli;

/// <summary>What must be mounted for PROGRAM (found on the host by <see cref="Executor"/>) to start inside:
/// the file itself and, for an ELF binary, its interpreter and libraries.</summary>
internal static class ProgramLocator
{
    /// <summary>Mounts the resolved program read-only at its host path and, for an ELF binary, its interpreter and
    /// libraries (<see cref="PolicyBuilder.AddLibrariesForBinary"/>). Anything else is mounted as it is; exec then
    /// fails and the sandbox reports why. (A <c>#!</c> script cannot start: it is executed with execveat from a
    /// close-on-exec descriptor, which its interpreter cannot reopen.)</summary>
    /// <param name="covered">The program is already visible at its path through a bind of the user's.</param>
    public static void AddProgramMounts(PolicyBuilder builder, string hostPath, bool covered)
    {
        if (!File.Exists(hostPath))
            return;
        if (!covered)
            builder.AddFile(hostPath);
        if (IsExecutable(hostPath) && IsElf(hostPath))
            builder.AddLibrariesForBinary(hostPath);
    }

    private static bool IsElf(string path)
    {
        // Never open() what is not a regular file (a FIFO named as PROGRAM would block here).
        using var file = RegularFile.TryOpen(path, followLast: true, out _);
        if (file is null) return false;
        Span<byte> magic = stackalloc byte[4];
        try { return RandomAccess.Read(file.Handle, magic, 0) == 4 && ElfFile.HasMagic(magic); }
        catch (IOException) { return false; }
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
