namespace Sandbox2.Tests.Security;

/// <summary>How a test runs a program as an unprivileged user: as root through setpriv as uid/gid 65534; when the suite
/// already runs unprivileged (only root may use setpriv to switch users), directly as the current user, which is the
/// same check.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class AsCaller
{
    /// <summary>Whether the tests run as root (then <see cref="Unprivileged"/> switches to uid 65534).</summary>
    public static bool IsRoot => Interop.GetEUid() == 0;

    /// <summary>The launcher that makes the rest of a command line unprivileged: setpriv as root, nothing otherwise.</summary>
    public static string[] Unprivileged => IsRoot ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];

    /// <summary>The uid an unprivileged run has: 65534 as root (setpriv), the caller's own otherwise.</summary>
    public static uint Uid => IsRoot ? 65534u : Interop.GetEUid();

    /// <summary><paramref name="program"/> and <paramref name="args"/> behind <see cref="Unprivileged"/>: the file to start
    /// and its arguments.</summary>
    public static (string File, string[] Args) Command(string program, params string[] args)
    {
        string[] all = [.. Unprivileged, program, .. args];
        return (all[0], all[1..]);
    }
}
