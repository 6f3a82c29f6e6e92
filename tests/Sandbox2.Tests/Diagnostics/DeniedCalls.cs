using System.Diagnostics;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Diagnostics;

/// <summary>Runs the CLI under tests/testcases/deny_launcher: a seccomp filter that makes chosen calls fail as an older
/// kernel or a container's profile does (ENOSYS for a missing call, EPERM for blocked namespaces, EINVAL for unknown
/// filter flags). The tool, its forkserver and the probes all inherit the filter.</summary>
internal static class DeniedCalls
{
    /// <summary>As Docker's default profile answers without CAP_SYS_ADMIN: clone3 ENOSYS, namespace clone/unshare EPERM.</summary>
    public const string LikeDocker = "clone3=ENOSYS,clone_ns=EPERM,unshare=EPERM";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    public static async Task<CliOutcome> RunCliAsync(string rules, params string[] args)
    {
        var start = new ProcessStartInfo(CliRunner.Testcase("deny_launcher"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(rules);
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(CliRunner.ToolPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"deny_launcher {rules} sandbox2 {string.Join(' ', args)} did not finish");
        }
        return new CliOutcome(p.ExitCode, await stdout, await stderr);
    }
}
