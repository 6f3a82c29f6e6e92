using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// Finds the forkserver program to start (<see cref="GlobalForkServer"/> documents the order). The last resort is the
/// copy embedded in this assembly (manifest resource <see cref="ResourceName"/>), written into a sealed memfd and
/// started through <c>/proc/self/fd/N</c>: nothing is extracted to disk, so there is no directory to secure, no file
/// another user could swap between a check and the exec, and the program always matches this library's protocol.
/// That is what Sandbox2 does with its embedded forkserver, and what lets a NativeAOT <c>sandbox2</c> copied alone
/// anywhere work.
/// </summary>
internal static class ForkServerLocator
{
    internal const string ResourceName = "Sandbox2.sandbox2-forkserver";

    /// <summary>The outcome of a search: a path on disk, the embedded copy, or an error naming every place looked at.</summary>
    internal readonly record struct Location(string? Path, bool Embedded, string? Error);

    internal static Location Locate() => Locate(
        GlobalForkServer.ProgramPath, Environment.GetEnvironmentVariable(GlobalForkServer.EnvironmentVariable), Candidates(), HasEmbeddedCopy());

    internal static Location Locate(string? configured, string? fromEnvironment, IEnumerable<string> candidates, bool embedded)
    {
        if (configured is not null)
        {
            return Check(configured) is { } problem
                ? new Location(null, false, $"the forkserver set in GlobalForkServer.ProgramPath ({configured}) {problem}")
                : new Location(configured, false, null);
        }
        if (fromEnvironment is { Length: > 0 })
        {
            if (!Path.IsPathRooted(fromEnvironment))
                return new Location(null, false, $"{GlobalForkServer.EnvironmentVariable}={fromEnvironment} is not an absolute path");
            return Check(fromEnvironment) is { } problem
                ? new Location(null, false, $"the forkserver named by {GlobalForkServer.EnvironmentVariable} ({fromEnvironment}) {problem}")
                : new Location(fromEnvironment, false, null);
        }
        var looked = new List<string>();
        foreach (string candidate in candidates)
        {
            if (Check(candidate) is { } problem) looked.Add($"{candidate} ({problem})");
            else return new Location(candidate, false, null);
        }
        if (embedded) return new Location(null, true, null);
        looked.Add("the copy embedded in Sandbox2.dll (absent: built without native/)");
        return new Location(null, false,
            $"forkserver program not found; looked at: {string.Join("; ", looked)}. Set {GlobalForkServer.EnvironmentVariable} or GlobalForkServer.ProgramPath to its path");
    }

    /// <summary>The places searched, in order, without duplicates.</summary>
    internal static IEnumerable<string> Candidates()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        foreach (string? directory in new[] { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native"), RealExecutableDirectory() })
        {
            if (directory is null) continue;
            string path = Path.GetFullPath(Path.Combine(directory, GlobalForkServer.ProgramName));
            if (seen.Add(path)) yield return path;
        }
    }

    /// <summary>The directory of the running executable with symlinks resolved (a tool shim or a symlink in ~/bin
    /// points at the real file, whose directory holds the forkserver).</summary>
    private static string? RealExecutableDirectory()
    {
        try
        {
            string? process = Environment.ProcessPath;
            if (process is null) return null;
            var target = File.ResolveLinkTarget(process, returnFinalTarget: true);
            return Path.GetDirectoryName(target?.FullName ?? process);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Null if <paramref name="path"/> is an executable regular file; otherwise what is wrong with it.</summary>
    private static string? Check(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return Directory.Exists(path) ? "is a directory" : "does not exist";
            if (Interop.Access(path, Interop.X_OK) != 0)
                return $"is not executable: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return $"cannot be read: {e.Message}";
        }
    }

    private static bool HasEmbeddedCopy() => typeof(ForkServerLocator).Assembly.GetManifestResourceInfo(ResourceName) is not null;

    /// <summary>Writes the embedded forkserver into a sealed, close-on-exec memfd. The caller starts
    /// <c>/proc/self/fd/{fd}</c> (the kernel opens it at exec, before close-on-exec applies) and disposes the handle.</summary>
    internal static SafeFdHandle OpenEmbedded()
    {
        using Stream? resource = typeof(ForkServerLocator).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new ForkServerException("the embedded forkserver is missing from Sandbox2.dll");
        // MFD_EXEC (Linux 6.3+) says the file is meant to be executed (vm.memfd_noexec); older kernels reject the flag.
        int fd = Interop.MemfdCreate(GlobalForkServer.ProgramName, Interop.MFD_CLOEXEC | Interop.MFD_ALLOW_SEALING | Interop.MFD_EXEC);
        if (fd < 0 && Marshal.GetLastPInvokeError() == 22 /* EINVAL */)
            fd = Interop.MemfdCreate(GlobalForkServer.ProgramName, Interop.MFD_CLOEXEC | Interop.MFD_ALLOW_SEALING);
        if (fd < 0)
            throw new ForkServerException($"memfd_create for the embedded forkserver failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var handle = new SafeFdHandle(fd);
        try
        {
            using (var file = new SafeFileHandle(fd, ownsHandle: false))
            {
                var buffer = new byte[resource.Length];
                resource.ReadExactly(buffer);
                RandomAccess.Write(file, buffer, 0);
            }
            if (Interop.FcntlInt(fd, Interop.F_ADD_SEALS, Interop.F_SEAL_SEAL | Interop.F_SEAL_SHRINK | Interop.F_SEAL_GROW | Interop.F_SEAL_WRITE) != 0)
                throw new ForkServerException($"sealing the embedded forkserver failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
