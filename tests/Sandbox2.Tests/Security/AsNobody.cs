using System.Diagnostics;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Security;

/// <summary>The built CLI run as uid/gid 65534 (setpriv), for the attacks by an unprivileged executor: then every sandbox
/// runs as the caller's own uid, so what it leaves behind is the caller's.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class AsNobody
{
    /// <summary>Whether the tests can switch to uid 65534 (they run as root).</summary>
    public static bool Available => AsCaller.IsRoot && File.Exists("/usr/bin/setpriv");

    public static async Task<CliOutcome> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/setpriv")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = "/",
        };
        foreach (var a in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "--", CliRunner.ToolPath, .. args]) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new CliOutcome(p.ExitCode, await stdout, await stderr);
    }
}
