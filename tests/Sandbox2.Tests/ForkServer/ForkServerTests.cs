using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>Plans built by hand for the forkserver layer (the Executor builds them in production).</summary>
internal static partial class FsPlans
{
    public static string Testcase(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string p = Path.Combine(dir.FullName, "testcases", name);
            if (dir.Name == "artifacts" && File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"testcase {name} not built (tests/testcases)");
    }

    /// <summary>A pipe whose write end goes into the sandbox; read the output with <see cref="ReadAll"/>.</summary>
    public static unsafe (SafeFdHandle Read, SafeFdHandle Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, 0x80000) != 0) throw new IOException("pipe2 failed");
        return (new SafeFdHandle(fds[0]), new SafeFdHandle(fds[1]));
    }

    public static async Task<string> ReadAll(SafeFdHandle read)
    {
        using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(read.DangerousGetHandle(), ownsHandle: false), FileAccess.Read, 1, isAsync: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await Task.Run(reader.ReadToEndAsync).ConfigureAwait(false);
    }

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static unsafe partial int pipe2(int* fds, int flags);

    public static uint OutsideUid(bool unprivileged) => unprivileged || geteuid() == 0 ? 65534u : (uint)geteuid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial int geteuid();

    /// <summary>Static <c>fs_probe</c> with a fresh /proc, its stdout/stderr to <paramref name="output"/>.</summary>
    public static SandboxPlan Probe(SafeFdHandle output, string[] args, bool unprivileged = false, byte[]? bpf = null,
        IReadOnlyList<MountOp>? extraMounts = null, IReadOnlyList<FdMapping>? fds = null, string program = "fs_probe-static", bool notify = false)
    {
        var mounts = new List<MountOp> { new(MountOpKind.MakeDirectory, "/proc"), new(MountOpKind.Proc, "/proc") };
        if (extraMounts is not null) mounts.AddRange(extraMounts);
        return new SandboxPlan
        {
            OutsideUid = OutsideUid(unprivileged),
            OutsideGid = OutsideUid(unprivileged),
            Mounts = mounts,
            Argv = ["fs_probe", .. args],
            Environment = ["PATH=/bin"],
            ProgramFd = Interop.OpenPath(program.StartsWith('/') ? program : Testcase(program)),
            Fds = fds ?? [new FdMapping(1, output), new FdMapping(2, output)],
            Bpf = bpf ?? [],
            ExecNonce = 0x1234_5678_9abc_def0,
            NotifyListener = notify,
        };
    }

    /// <summary>Hand-written filter: optionally kill on one syscall nr, allow everything else.</summary>
    public static byte[] Bpf(int? killNr)
    {
        var insns = new List<(ushort Code, byte Jt, byte Jf, uint K)> { (0x20, 0, 0, 0) }; // ld [0] (nr)
        if (killNr is int nr)
        {
            insns.Add((0x15, 0, 1, (uint)nr));           // jeq nr
            insns.Add((0x06, 0, 0, 0x80000000));        // ret KILL_PROCESS
        }
        insns.Add((0x06, 0, 0, 0x7fff0000));            // ret ALLOW
        var b = new byte[insns.Count * 8];
        for (int i = 0; i < insns.Count; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(i * 8), insns[i].Code);
            b[i * 8 + 2] = insns[i].Jt;
            b[i * 8 + 3] = insns[i].Jf;
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 8 + 4), insns[i].K);
        }
        return b;
    }

    /// <summary>Runs a plan to completion and returns the report and everything written to fd 1/2.</summary>
    public static async Task<(NativeExitReport Report, string Output)> Run(ForkServer server, Func<SafeFdHandle, SandboxPlan> makePlan)
    {
        var (read, write) = Pipe();
        using (read)
        {
            SandboxPlan plan = makePlan(write);
            SpawnedSandbox sandbox;
            try
            {
                sandbox = await server.SpawnAsync(plan);
            }
            finally
            {
                write.Dispose();
                plan.ProgramFd.Dispose();
            }
            using (sandbox)
            {
                var output = ReadAll(read);
                var report = await sandbox.Completion.WaitAsync(TimeSpan.FromSeconds(20));
                return (report, await output.WaitAsync(TimeSpan.FromSeconds(20)));
            }
        }
    }
}
