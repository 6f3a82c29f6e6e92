namespace Sandbox2.Cli;

/// <summary>The exit status of <c>sandbox2 run</c> (CONTRACT.md, "Exit status of sandbox2 run").</summary>
internal static class ExitStatus
{
    public const int BadCommandLine = 2;
    public const int Timeout = 124;
    public const int SetupError = 125;
    public const int NotExecutable = 126;
    public const int NotFound = 127;
    public const int Violation = 128 + 31; // 128 + SIGSYS
    public const int Interrupted = 128 + 2; // 128 + SIGINT
    private const int SigKill = 9;

    public static int From(SandboxResult result) => result.ReasonCode switch
    {
        ReasonCode.ProgramNotFound => NotFound,
        ReasonCode.ProgramNotExecutable => NotExecutable,
        _ => FromStatus(result),
    };

    private static int FromStatus(SandboxResult result) => result.Status switch
    {
        SandboxStatus.Ok => result.ExitCode ?? SetupError,
        SandboxStatus.Signaled => 128 + (result.Signal ?? SigKill),
        SandboxStatus.Violation => Violation,
        SandboxStatus.Timeout => Timeout,
        // Killed from outside (Kill(), or this tool was interrupted): report it like a signal death.
        SandboxStatus.ExternalKill => 128 + (result.Signal ?? SigKill),
        _ => SetupError,
    };
}
