using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// How to start one sandboxee (Sandbox2's <c>Executor</c>): the program, its arguments and environment, working
/// directory, limits and standard streams. One executor serves one <see cref="Sandbox"/>.
/// </summary>
public sealed class Executor
{
    /// <summary>The PATH a sandboxee gets when no environment is given.</summary>
    public const string DefaultPath = "/usr/local/bin:/usr/bin:/bin";

    /// <param name="path">The program: a path, or a bare name searched on the host's PATH.</param>
    /// <param name="args">Arguments after argv[0].</param>
    /// <param name="environment">The sandboxee's whole environment; null = just <c>PATH</c>. The host environment is never passed.</param>
    public Executor(string path, IReadOnlyList<string>? args = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ProgramPath = Find(path) ?? path; // not found: reported as PROGRAM_NOT_FOUND when the sandbox starts
        Argv0 = path;
        Args = args ?? [];
        Environment = environment;
    }

    /// <summary>Runs an already opened program (the executor takes ownership of <paramref name="programFd"/>).</summary>
    public Executor(SafeFileHandle programFd, string argv0, IReadOnlyList<string>? args = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(programFd);
        ArgumentException.ThrowIfNullOrEmpty(argv0);
        ProgramFd = programFd;
        ProgramPath = "fd:" + programFd.DangerousGetHandle();
        Argv0 = argv0;
        Args = args ?? [];
        Environment = environment;
    }

    /// <summary>The program's absolute path (a bare name resolved on the host's PATH; as given if it cannot be
    /// found), or <c>fd:N</c>.</summary>
    public string ProgramPath { get; }
    /// <summary>argv[0] as the program sees it.</summary>
    public string Argv0 { get; }
    public IReadOnlyList<string> Args { get; }
    public IReadOnlyDictionary<string, string>? Environment { get; }
    internal SafeFileHandle? ProgramFd { get; }

    /// <summary>Working directory inside the sandbox.</summary>
    public string Cwd { get; set; } = "/";
    public Limits Limits { get; set; } = new();
    /// <summary>The sandboxee's standard input; null = the executor's own fd 0.</summary>
    public SafeFileHandle? Stdin { get; set; }
    /// <summary>The sandboxee's standard output; null = the executor's own fd 1.</summary>
    public SafeFileHandle? Stdout { get; set; }
    /// <summary>The sandboxee's standard error; null = the executor's own fd 2.</summary>
    public SafeFileHandle? Stderr { get; set; }
    /// <summary>Sandbox2's <c>set_enable_sandbox_before_exec</c>: true (default) installs the policy right before
    /// exec; false starts the program unfiltered, in its namespaces, mounts and limits, with a Comms channel at fd 1023,
    /// and it applies the policy itself with <c>SandboxClient.SandboxMeHere()</c> (C#) or <c>sandbox2_sandbox_me_here</c>
    /// (C), on every thread (TSYNC). The executor then sends the policy, the <see cref="Ipc"/> mappings and
    /// <see cref="Cwd"/> over Comms and attaches the monitor to the listener the program sends back. A program that
    /// never calls SandboxMeHere runs unfiltered until it exits or hits <see cref="Limits.WallTime"/> (set one); one
    /// that closes its Comms channel without calling it is killed (SETUP_ERROR), as is one whose client refuses (a
    /// thread it cannot synchronise; the reason names it).
    /// <para>The policy is the same as before exec, plus two rules placed after yours and before the default action:
    /// <c>sendmsg</c> on the Comms descriptor 1023 and <c>close</c> are allowed, because the client must still send
    /// its outcome and the listener, and close the listener, once the filter is on. A policy whose own rules forbid
    /// either (or send them to the monitor) is refused with SETUP_ERROR rather than left to hang.</para></summary>
    public bool EnableSandboxBeforeExec { get; set; } = true;

    /// <summary>Open a Comms channel to the program at fd 1023 (<see cref="Sandbox.Comms"/>) also when the policy is
    /// installed before exec. Always on with <see cref="EnableSandboxBeforeExec"/> = false. Set it before creating the
    /// <see cref="Sandbox"/>.</summary>
    public bool EnableComms { get; set; }

    /// <summary>Descriptors given to the program (Sandbox2's <c>ipc()</c>): <c>MapFd</c>, <c>ReceiveFd</c>. Before exec
    /// (the default) only mappings at a number are possible and they are in place when the program starts (a mapping at
    /// 0, 1 or 2 replaces that stream); in SandboxMeHere mode they arrive with the handshake, by number and/or name
    /// (<c>SandboxClient.GetMappedFd</c>). The sandbox takes the handles over when it starts.</summary>
    public Ipc Ipc { get; } = new();

    internal int Started;

    /// <summary>Finds the program on the host: a path is taken as is (relative to the current directory), a bare
    /// name is searched on the host's PATH. Returns the absolute path, or a SETUP_ERROR result.</summary>
    internal static (string? Path, SandboxResult? Error) Resolve(string program)
    {
        string? found = Find(program);
        if (found is null)
            return (null, new SandboxResult(SandboxStatus.SetupError, $"{program}: program not found", "PROGRAM_NOT_FOUND"));
        if (Directory.Exists(found) || Interop.Access(found, Interop.X_OK) != 0)
            return (null, new SandboxResult(SandboxStatus.SetupError, $"{found}: not executable", "PROGRAM_NOT_EXECUTABLE"));
        return (found, null);
    }

    /// <summary>The absolute path of an existing <paramref name="program"/>: a path as is, a bare name on the host's
    /// PATH (the first executable match, else the first existing one); null if there is none.</summary>
    internal static string? Find(string program)
    {
        string? found = null;
        if (program.Contains('/', StringComparison.Ordinal))
        {
            found = System.IO.Path.GetFullPath(program);
            if (!File.Exists(found) && !Directory.Exists(found)) found = null;
        }
        else
        {
            string pathVar = System.Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } p ? p : DefaultPath;
            foreach (var dir in pathVar.Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = System.IO.Path.Combine(dir, program);
                if (File.Exists(candidate) && Interop.Access(candidate, Interop.X_OK) == 0) { found = System.IO.Path.GetFullPath(candidate); break; }
                found ??= File.Exists(candidate) ? System.IO.Path.GetFullPath(candidate) : null;
            }
        }
        return found;
    }
}
