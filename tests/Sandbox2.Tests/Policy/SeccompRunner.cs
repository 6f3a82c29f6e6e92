using System.Diagnostics;
using System.Globalization;
using Sandbox2.Bpf;

namespace Sandbox2.Tests.Policy;

/// <summary>What happened to one syscall made under a filter by tests/testcases/seccomp_runner.c.</summary>
internal readonly record struct LiveOutcome(bool Returned, long Ret, int Errno, int Signal)
{
    public const int Sigsys = 31, Sigsegv = 11;

    public static LiveOutcome Parse(string line)
    {
        var fields = line.Trim().Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f.Length > 1 ? f[1] : "");
        if (fields.TryGetValue("signal", out var sig)) return new(false, 0, 0, int.Parse(sig, CultureInfo.InvariantCulture));
        if (fields.TryGetValue("ret", out var ret))
            return new(true, long.Parse(ret, CultureInfo.InvariantCulture), int.Parse(fields["errno"], CultureInfo.InvariantCulture), 0);
        throw new InvalidOperationException($"seccomp_runner said '{line.Trim()}'");
    }

    /// <summary>What the kernel does for filter return value <paramref name="action"/>; for ALLOW, what the unfiltered call did.</summary>
    public static LiveOutcome Expected(uint action, LiveOutcome unfiltered) => (action & SeccompReturn.ActionFullMask) switch
    {
        SeccompReturn.Allow => unfiltered,
        SeccompReturn.Errno => (action & SeccompReturn.DataMask) == 0 ? new(true, 0, 0, 0) : new(true, -1, (int)(action & SeccompReturn.DataMask), 0),
        SeccompReturn.KillProcess or SeccompReturn.KillThread => new(false, 0, 0, Sigsys),
        SeccompReturn.UserNotif => new(true, -1, 38, 0),   // no listener: ENOSYS
        _ => throw new ArgumentOutOfRangeException(nameof(action), SeccompReturn.Describe(action)),
    };

    /// <summary>Equal up to the value a successful call returns (pids differ between runs).</summary>
    public bool Matches(LiveOutcome other) =>
        Returned == other.Returned && Signal == other.Signal && Errno == other.Errno && (Ret >= 0) == (other.Ret >= 0);

    public override string ToString() => Returned ? $"ret={Ret} errno={Errno}" : $"signal={Signal}";
}

internal sealed record ExecResult(int Status, string Stdout, string Stderr);

internal static class SeccompRunner
{
    private static readonly Lazy<string> RunnerPath = new(() => Testcase("seccomp_runner"));

    /// <summary>Path of a built C testcase (artifacts/testcases/NAME).</summary>
    public static string Testcase(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "testcases", name);
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(dir.FullName, "artifacts", "testcases", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"artifacts/testcases/{name} not found (built by tests/testcases/Makefile)");
    }

    /// <summary>Runs <paramref name="program"/> under <paramref name="filter"/> (null = none) as the sandbox does:
    /// filter first, then the tagged execveat. Returns (exit status, stdout); a kill by signal N is 128+N.</summary>
    public static ExecResult Exec(BpfProgram? filter, ulong nonce, string workDir, string program, params string[] args)
    {
        string? filterFile = null;
        try
        {
            ProcessStartInfo psi;
            if (filter is not null)
            {
                filterFile = Path.Combine(Path.GetTempPath(), $"sandbox2-test-{Guid.NewGuid():N}.bpf");
                File.WriteAllBytes(filterFile, filter.ToBytes());
                psi = new ProcessStartInfo(Testcase("seccomp_exec"));
                psi.ArgumentList.Add(filterFile);
                psi.ArgumentList.Add("0x" + nonce.ToString("x", CultureInfo.InvariantCulture));
                psi.ArgumentList.Add(program);
            }
            else
            {
                psi = new ProcessStartInfo(program);
            }
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
            psi.UseShellExecute = false;
            psi.WorkingDirectory = workDir;
            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var stderrTask = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(30_000)) { p.Kill(); throw new TimeoutException($"{program} hung"); }
            return new ExecResult(p.ExitCode, stdout, stderrTask.Result);
        }
        finally
        {
            if (filterFile is not null) File.Delete(filterFile);
        }
    }

    /// <summary>Runs syscall <paramref name="nr"/> with <paramref name="args"/> in a child under <paramref name="program"/> (null = no filter).</summary>
    public static LiveOutcome Run(BpfProgram? program, long nr, ulong[] args, bool int80 = false) =>
        LiveOutcome.Parse(RunRaw(program?.ToBytes(), nr, args, int80));

    /// <summary>As <see cref="Run"/> with raw program bytes (not checked here); returns the runner's line.</summary>
    public static string RunRaw(byte[]? program, long nr, ulong[] args, bool int80 = false)
    {
        string? filterFile = null;
        try
        {
            if (program is not null)
            {
                filterFile = Path.Combine(Path.GetTempPath(), $"sandbox2-test-{Guid.NewGuid():N}.bpf");
                File.WriteAllBytes(filterFile, program);
            }
            var psi = new ProcessStartInfo(RunnerPath.Value) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(filterFile ?? "none");
            psi.ArgumentList.Add(int80 ? "int80" : "syscall");
            psi.ArgumentList.Add("0x" + nr.ToString("x", CultureInfo.InvariantCulture));
            foreach (var a in args) psi.ArgumentList.Add("0x" + a.ToString("x", CultureInfo.InvariantCulture));
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(20_000)) { p.Kill(); throw new TimeoutException("seccomp_runner hung"); }
            if (p.ExitCode != 0) throw new InvalidOperationException($"seccomp_runner exit {p.ExitCode}: {stdout}{stderr}");
            return stdout.Trim();
        }
        finally
        {
            if (filterFile is not null) File.Delete(filterFile);
        }
    }
}
