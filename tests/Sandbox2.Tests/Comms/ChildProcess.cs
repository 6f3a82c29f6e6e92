using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Tests;

/// <summary>
/// A child started with posix_spawn with a Comms end at fd 1023 and stderr captured (System.Diagnostics.Process
/// cannot place fd 1023). Until the executor integration lands, this plays the part of the forkserver.
/// </summary>
internal sealed partial class ChildProcess : IDisposable
{
    const int SIGKILL = 9;
    const int WNOHANG = 1;
    const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;

    readonly Task<string> _stderr;
    bool _reaped;

    ChildProcess(int pid, Task<string> stderr) { Pid = pid; _stderr = stderr; }

    public int Pid { get; }

    public static unsafe ChildProcess Start(string path, IReadOnlyList<string> args, SafeHandle commsEnd, IReadOnlyDictionary<string, string>? env = null,
        int commsFd = Comms.DefaultConnectionFd)
    {
        var fileActions = Marshal.AllocHGlobal(256);
        var attr = Marshal.AllocHGlobal(512);
        var sigset = Marshal.AllocHGlobal(128);
        var strings = new List<nint>();
        int* pipe = stackalloc int[2];
        bool added = false;
        try
        {
            Check(Pipe2(pipe, 0x80000 /* O_CLOEXEC */), "pipe2");
            commsEnd.DangerousAddRef(ref added);
            Check(FileActionsInit(fileActions), "file_actions_init");
            Check(FileActionsAddDup2(fileActions, (int)commsEnd.DangerousGetHandle(), commsFd), "adddup2");
            Check(FileActionsAddDup2(fileActions, pipe[1], 2), "adddup2");
            Check(SpawnAttrInit(attr), "spawnattr_init");
            Check(SigEmptySet(sigset), "sigemptyset");
            Check(SpawnAttrSetSigMask(attr, sigset), "setsigmask");
            Check(SigEmptySet(sigset), "sigemptyset");
            Check(SigAddSet(sigset, 13 /* SIGPIPE */), "sigaddset");
            Check(SpawnAttrSetSigDefault(attr, sigset), "setsigdefault");
            Check(SpawnAttrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), "setflags");

            var argv = new nint[args.Count + 2];
            argv[0] = Utf8(path, strings);
            for (int i = 0; i < args.Count; i++) argv[i + 1] = Utf8(args[i], strings);
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
                environment[(string)e.Key] = (string?)e.Value ?? "";
            environment.Remove(Client.SandboxClient.NoTsyncTestVariable);
            environment.Remove(Comms.ConnectionFdVariable);
            foreach (var (k, v) in env ?? new Dictionary<string, string>()) environment[k] = v;
            var envp = new nint[environment.Count + 1];
            int j = 0;
            foreach (var (k, v) in environment) envp[j++] = Utf8($"{k}={v}", strings);

            int pid;
            fixed (nint* a = argv)
            fixed (nint* e = envp)
            {
                int rc = PosixSpawn(&pid, path, fileActions, attr, a, e);
                if (rc != 0) throw new IOException($"posix_spawn {path}: {Marshal.GetPInvokeErrorMessage(rc)}");
            }
            _ = Close(pipe[1]);
            pipe[1] = -1;
            var reader = new SafeFileHandle(pipe[0], ownsHandle: true);
            pipe[0] = -1;
            return new ChildProcess(pid, ReadAllAsync(reader));
        }
        finally
        {
            if (added) commsEnd.DangerousRelease();
            if (pipe[0] > 0) _ = Close(pipe[0]);
            if (pipe[1] > 0) _ = Close(pipe[1]);
            _ = FileActionsDestroy(fileActions);
            _ = SpawnAttrDestroy(attr);
            Marshal.FreeHGlobal(fileActions);
            Marshal.FreeHGlobal(attr);
            Marshal.FreeHGlobal(sigset);
            foreach (var s in strings) Marshal.FreeCoTaskMem(s);
        }
    }

    static Task<string> ReadAllAsync(SafeFileHandle reader) => Task.Run(async () =>
    {
        using var stream = new FileStream(reader, FileAccess.Read, 1);
        using var text = new StreamReader(stream);
        return await text.ReadToEndAsync().ConfigureAwait(false);
    });

    static nint Utf8(string s, List<nint> owner)
    {
        var p = Marshal.StringToCoTaskMemUTF8(s);
        owner.Add(p);
        return p;
    }

    static void Check(int rc, string what)
    {
        if (rc != 0) throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(rc == -1 ? Marshal.GetLastPInvokeError() : rc)}");
    }

    /// <summary>Waits for the exit (polling waitpid; kills the child at the deadline).</summary>
    public async Task<ChildExit> WaitAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            int r = Reap(WNOHANG, out int status);
            if (r == Pid)
            {
                _reaped = true;
                string stderr = await _stderr.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                int sig = status & 0x7f;
                return sig == 0 ? new ChildExit((status >> 8) & 0xff, null, stderr) : new ChildExit(null, sig, stderr);
            }
            if (r < 0) throw new IOException($"waitpid: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            if (DateTime.UtcNow > deadline)
            {
                Kill();
                throw new TimeoutException($"child {Pid} did not exit in time");
            }
            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    public void Kill() => _ = KillPid(Pid, SIGKILL);

    public void Dispose()
    {
        if (_reaped) return;
        Kill();
        _ = Reap(0, out _);
        _reaped = true;
    }

    unsafe int Reap(int options, out int status)
    {
        int s = 0;
        int r = WaitPid(Pid, &s, options);
        status = s;
        return r;
    }

    [LibraryImport("libc", EntryPoint = "posix_spawn", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int PosixSpawn(int* pid, string path, nint fileActions, nint attr, nint* argv, nint* envp);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(nint fa);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(nint fa);
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(nint fa, int fd, int newFd);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int SpawnAttrInit(nint attr);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int SpawnAttrDestroy(nint attr);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int SpawnAttrSetSigMask(nint attr, nint set);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int SpawnAttrSetSigDefault(nint attr, nint set);
    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int SpawnAttrSetFlags(nint attr, short flags);
    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static partial int SigEmptySet(nint set);
    [LibraryImport("libc", EntryPoint = "sigaddset")]
    private static partial int SigAddSet(nint set, int sig);
    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static unsafe partial int Pipe2(int* fds, int flags);
    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static unsafe partial int WaitPid(int pid, int* status, int options);
    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int KillPid(int pid, int sig);
}

internal sealed record ChildExit(int? ExitCode, int? Signal, string Stderr)
{
    public override string ToString() => $"exit={ExitCode?.ToString() ?? "-"} signal={Signal?.ToString() ?? "-"} stderr={Stderr}";
}

/// <summary>Paths of the things the tests start.</summary>
internal static class TestPaths
{
    static readonly string Root = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sandbox2.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Sandbox2.slnx) not found above " + AppContext.BaseDirectory);
    }

    public static string Testcase(string name) => Path.Combine(Root, "artifacts", "testcases", name);
    public static string Example(string name) => Path.Combine(Root, "artifacts", "examples", name);

    /// <summary>The C# test sandboxee (apphost), built by the test project's ProjectReference in the same configuration.</summary>
    public static string CSharpSandboxee => Bin("Sandbox2.TestSandboxee", "Sandbox2.TestSandboxee");

    /// <summary>An app host built by a ProjectReference, in the test project's configuration.</summary>
    public static string Bin(string project, string assembly) =>
        Path.Combine(Root, "artifacts", "bin", project, Path.GetFileName(AppContext.BaseDirectory.TrimEnd('/')), assembly);
}

/// <summary>Tiny hand-made seccomp filters for these tests (the real policy compiler is elsewhere).</summary>
internal static class TestBpf
{
    public const int Getppid = 110;
    public const int Openat = 257;
    public const int TestErrno = 1234;
    public const uint RetAllow = 0x7fff0000, RetKillProcess = 0x80000000, RetErrno = 0x00050000;

    /// <summary>x86-64 only; <paramref name="nr"/> returns <paramref name="action"/>; everything else is allowed.</summary>
    public static byte[] Deny(int nr, uint action)
    {
        (ushort Code, byte Jt, byte Jf, uint K)[] prog =
        [
            (0x20, 0, 0, 4),                    // ld [4]  (arch)
            (0x15, 1, 0, 0xC000003E),           // jeq AUDIT_ARCH_X86_64 ? +1 : +0
            (0x06, 0, 0, RetKillProcess),       // ret KILL_PROCESS
            (0x20, 0, 0, 0),                    // ld [0]  (nr)
            (0x15, 0, 1, (uint)nr),             // jeq nr ? +0 : +1
            (0x06, 0, 0, action),               // ret action
            (0x06, 0, 0, RetAllow),             // ret ALLOW
        ];
        var bytes = new byte[prog.Length * 8];
        for (int i = 0; i < prog.Length; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), prog[i].Code);
            bytes[i * 8 + 2] = prog[i].Jt;
            bytes[i * 8 + 3] = prog[i].Jf;
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8 + 4), prog[i].K);
        }
        return bytes;
    }

    public static byte[] DenyGetppidErrno() => Deny(Getppid, RetErrno | TestErrno);
}
