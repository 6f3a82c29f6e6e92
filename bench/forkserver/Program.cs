using System.Diagnostics;
using Sandbox2;

// Median spawn->exit time through ForkServer.Global: a static hello (no mounts but /proc) and the
// dynamic /bin/true with /usr bound read-only (merged-usr symlinks for /bin, /lib, /lib64).
int runs = args.Length > 0 ? int.Parse(args[0]) : 100;
string root = AppContext.BaseDirectory;
while (!Directory.Exists(Path.Combine(root, "artifacts", "testcases"))) root = Path.GetDirectoryName(root.TrimEnd('/'))!;
string hello = Path.Combine(root, "artifacts", "testcases", "hello-static");

var ns = PlanNamespaces.All;
foreach (var drop in (Environment.GetEnvironmentVariable("BENCH_DROP_NS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
    ns &= ~Enum.Parse<PlanNamespaces>(drop);
SandboxPlan Plan(string program, IReadOnlyList<MountOp> mounts, SafeFdHandle devnull) => new()
{
    Namespaces = ns,
    OutsideUid = 65534,
    OutsideGid = 65534,
    Mounts = mounts,
    Argv = [Path.GetFileName(program)],
    ProgramFd = Interop.OpenPath(program),
    Fds = [new FdMapping(0, devnull), new FdMapping(1, devnull), new FdMapping(2, devnull)],
};

MountOp[] usr =
[
    new(MountOpKind.MakeDirectory, "/usr"), new(MountOpKind.Bind, "/usr", "/usr", MountFlags.ReadOnly | MountFlags.NoSuid),
    new(MountOpKind.Symlink, "/bin", "usr/bin"), new(MountOpKind.Symlink, "/lib", "usr/lib"), new(MountOpKind.Symlink, "/lib64", "usr/lib64"),
];
using var devnull = new SafeFdHandle(Interop.Open("/dev/null", 2 | Interop.O_CLOEXEC, 0));
foreach (var (name, program, mounts) in new[] { ("static hello", hello, Array.Empty<MountOp>()), ("/bin/true (dynamic, /usr ro)", "/bin/true", usr) })
{
    var times = new List<double>();
    for (int i = 0; i < runs + 10; i++)
    {
        var plan = Plan(program, mounts, devnull);
        var sw = Stopwatch.StartNew();
        using (var sandbox = await ForkServer.Global.SpawnAsync(plan))
        {
            var report = await sandbox.Completion;
            sw.Stop();
            if (report.ExitCode != 0) throw new InvalidOperationException($"{name}: {report}");
        }
        plan.ProgramFd.Dispose();
        if (i >= 10) times.Add(sw.Elapsed.TotalMilliseconds);
    }
    times.Sort();
    Console.WriteLine($"{name}: runs {runs}, median {times[runs / 2]:F2} ms, p10 {times[runs / 10]:F2} ms, p90 {times[runs * 9 / 10]:F2} ms");
}
