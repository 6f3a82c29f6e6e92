namespace Sandbox2.Tests.Cli;

/// <summary><c>sandbox2 run</c> on real programs in real sandboxes: output, exit statuses, options.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class CliRunTests
{
    private const string Ptrace = CliRunner.PtraceNumber;
    private const string Acct = "163";

    [Fact]
    public async Task EchoHelloPrintsHelloAndExits0()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--", "/bin/echo", "hello");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public async Task ProgramIsFoundOnThePath()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--", "echo", "found");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("found\n", r.Stdout);
    }

    [Theory]
    [InlineData("cli_exit", 3)]
    [InlineData("cli_exit-static", 42)]
    [InlineData("cli_exit", 0)]
    public async Task ExitCodePassesThrough(string testcase, int code)
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--", CliRunner.Testcase(testcase), code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == code, r.ToString());
    }

    [Fact]
    public async Task FalseExits1()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--", "false");
        Assert.True(r.ExitCode == 1, r.ToString());
    }

    [Theory]
    [InlineData("/definitely/not/here/prog")]
    [InlineData("no-such-program-sandbox2-test")]
    public async Task MissingProgramExits127(string program)
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--", program);
        Assert.True(r.ExitCode == 127, r.ToString());
        Assert.Single(r.ToolLines);
    }

    [Fact]
    public async Task NonExecutableProgramExits126()
    {
        string file = Path.Combine(Path.GetTempPath(), $"sandbox2-cli-noexec-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, "not a program\n");
        try
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            CliOutcome r = await CliRunner.RunAsync("run", "--", file);
            Assert.True(r.ExitCode == 126, r.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task WallTimeLimitGives124()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--time-limit", "1", "--result", "-", "--", "sleep", "5");
        Assert.True(r.ExitCode == 124, r.ToString());
        Assert.Equal("TIMEOUT", CliJson.Parse(r.Stderr).GetProperty("status").GetString());
    }

    [Fact]
    public async Task ViolationGives159()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--result", "-", "--", CliRunner.Testcase("cli_syscall"), Ptrace);
        Assert.True(r.ExitCode == 159, r.ToString());
        var json = CliJson.Parse(r.Stderr);
        Assert.Equal("VIOLATION", json.GetProperty("status").GetString());
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task CpuLimitKillsWithASignal()
    {
        // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one.
        CliOutcome r = await CliRunner.RunAsync("run", "--cpu-limit", "1", "--result", "-", "--", "sha256sum", "/dev/zero");
        Assert.True(r.ExitCode is 128 + 24 or 128 + 9, r.ToString());
        var json = CliJson.Parse(r.Stderr);
        Assert.Equal("SIGNALED", json.GetProperty("status").GetString());
        Assert.Equal(r.ExitCode - 128, json.GetProperty("signal").GetInt32());
    }

    [Fact]
    public async Task HostEnvironmentIsNotPassedOnlyEnvAndPath()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--env", "GREETING=hi there", "--env", "EMPTY=", "--", "env");
        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, lines.Length);
        Assert.Equal("EMPTY=", lines[0]);
        Assert.Equal("GREETING=hi there", lines[1]);
        Assert.StartsWith("PATH=", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefaultEnvironmentIsAMinimalPath()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--", "env");
        Assert.True(r.ExitCode == 0, r.ToString());
        string line = Assert.Single(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("PATH=", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostnameDefaultsToSandbox2AndCanBeSet()
    {
        CliOutcome byDefault = await CliRunner.RunAsync("run", "--", "uname", "-n");
        Assert.True(byDefault.ExitCode == 0, byDefault.ToString());
        Assert.Equal("sandbox2\n", byDefault.Stdout);
        CliOutcome set = await CliRunner.RunAsync("run", "--hostname", "box7", "--", "uname", "-n");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal("box7\n", set.Stdout);
    }

    [Fact]
    public async Task CwdIsRootByDefaultAndCanBeSet()
    {
        CliOutcome byDefault = await CliRunner.RunAsync("run", "--", "pwd");
        Assert.True(byDefault.ExitCode == 0, byDefault.ToString());
        Assert.Equal("/\n", byDefault.Stdout);
        CliOutcome set = await CliRunner.RunAsync("run", "--cwd", "/tmp", "--", "pwd");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal("/tmp\n", set.Stdout);
    }

    [Fact]
    public async Task ProcIsMountedUnlessNoProc()
    {
        CliOutcome with = await CliRunner.RunAsync("run", "--", "cat", "/proc/self/stat");
        Assert.True(with.ExitCode == 0, with.ToString());
        Assert.StartsWith("2 (cat)", with.Stdout, StringComparison.Ordinal); // PID 2 in its own pid namespace
        CliOutcome without = await CliRunner.RunAsync("run", "--no-proc", "--", "cat", "/proc/self/stat");
        Assert.True(without.ExitCode == 1, without.ToString());
    }

    [Fact]
    public async Task RoBindIsReadableButNotWritable()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-cli-ro-").FullName;
        try
        {
            // The sandboxee runs as an unprivileged uid on the host (65534 when we are root): let it read here.
            File.SetUnixFileMode(dir, (UnixFileMode)0x1ed);
            await File.WriteAllTextAsync(Path.Combine(dir, "data.txt"), "payload\n");
            CliOutcome read = await CliRunner.RunAsync("run", "--ro-bind", dir + ":/data", "--", "cat", "/data/data.txt");
            Assert.True(read.ExitCode == 0, read.ToString());
            Assert.Equal("payload\n", read.Stdout);
            CliOutcome write = await CliRunner.RunAsync("run", "--ro-bind", dir + ":/data", "--", "touch", "/data/new");
            Assert.True(write.ExitCode == 1, write.ToString());
            Assert.False(File.Exists(Path.Combine(dir, "new")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BindIsWritableAndAFileNotMountedIsInvisible()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-cli-rw-").FullName;
        try
        {
            // The sandboxee runs as an unprivileged uid on the host: let it write here.
            File.SetUnixFileMode(dir, (UnixFileMode)0x1ff);
            CliOutcome write = await CliRunner.RunAsync("run", "--bind", dir + ":/out", "--", "touch", "/out/made-inside");
            Assert.True(write.ExitCode == 0, write.ToString());
            Assert.True(File.Exists(Path.Combine(dir, "made-inside")));
            CliOutcome invisible = await CliRunner.RunAsync("run", "--", "cat", dir + "/made-inside");
            Assert.True(invisible.ExitCode == 1, invisible.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task TmpfsIsWritableAndSized()
    {
        CliOutcome fits = await CliRunner.RunAsync("run", "--tmpfs", "/scratch:4M", "--", "dd", "if=/dev/zero", "of=/scratch/f", "bs=1M", "count=2");
        Assert.True(fits.ExitCode == 0, fits.ToString());
        CliOutcome full = await CliRunner.RunAsync("run", "--tmpfs", "/scratch:1M", "--", "dd", "if=/dev/zero", "of=/scratch/f", "bs=1M", "count=2");
        Assert.True(full.ExitCode == 1, full.ToString());
        Assert.Contains("No space left", full.Stderr, StringComparison.Ordinal);
        CliOutcome write = await CliRunner.RunAsync("run", "--", "touch", "/tmp/x");
        Assert.True(write.ExitCode == 0, write.ToString());
    }

    [Fact]
    public async Task NetworkHostWarnsOnStderr()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--network", "host", "--", "/bin/true");
        Assert.True(r.ExitCode == 0, r.ToString());
        string line = Assert.Single(r.ToolLines);
        Assert.Contains("unsafe", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllowAddsSyscalls()
    {
        CliOutcome denied = await CliRunner.RunAsync("run", "--", CliRunner.Testcase("cli_syscall"), Acct);
        Assert.True(denied.ExitCode == 159, denied.ToString());
        CliOutcome allowed = await CliRunner.RunAsync("run", "--allow", "getpid, acct", "--", CliRunner.Testcase("cli_syscall"), Acct);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.StartsWith("syscall 163 returned -1", allowed.Stdout, StringComparison.Ordinal); // EPERM: not privileged inside
    }

    [Fact]
    public async Task UnknownSyscallInAllowIsACommandLineError()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--allow", "no_such_syscall", "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("no_such_syscall", Assert.Single(r.ToolLines), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1073741824")]
    [InlineData("1048576KiB")]
    [InlineData("1024mb")]
    [InlineData("1.5G")]
    [InlineData("1T")]
    public async Task SizeSpellingsAreAccepted(string size)
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--memory-limit", size, "--file-size-limit", size, "--", "/bin/echo", "ok");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("ok\n", r.Stdout);
    }

    [Fact]
    public async Task FileSizeLimitStopsLargeWrites()
    {
        // RLIMIT_FSIZE: the write past the limit raises SIGXFSZ (25), which kills dd.
        CliOutcome r = await CliRunner.RunAsync("run", "--file-size-limit", "64k", "--", "dd", "if=/dev/zero", "of=/tmp/f", "bs=1k", "count=128");
        Assert.True(r.ExitCode == 128 + 25, r.ToString());
    }

    [Theory]
    [InlineData("TERM", 15)]
    [InlineData("INT", 2)]
    public async Task StopSignalKillsTheSandboxAndExits128PlusSignal(string signal, int number)
    {
        // A distinctive argument, to find the sandboxed sleep among the host's processes.
        string duration = $"{37 + number}.{Random.Shared.Next(100000, 999999)}";
        CliOutcome r = await CliRunner.RunAsync(["run", "--result", "-", "--", "sleep", duration], async pid =>
        {
            for (int i = 0; i < 300 && !await SleepIsRunningAsync(duration); i++)
                await Task.Delay(100);
            Assert.True(await SleepIsRunningAsync(duration), "the sandboxed sleep never started");
            using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        });
        Assert.True(r.ExitCode == 128 + number, r.ToString());
        Assert.Contains($"stopped by signal {number}", r.Stderr, StringComparison.Ordinal);
        Assert.Equal("EXTERNAL_KILL", CliJson.Parse(r.Stderr).GetProperty("status").GetString());
        Assert.False(await SleepIsRunningAsync(duration), "the sandboxed program outlived the tool");
    }

    private static async Task<bool> SleepIsRunningAsync(string duration)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string cmdline = await File.ReadAllTextAsync(Path.Combine(dir, "cmdline"));
                string[] argv = cmdline.Split('\0');
                if (argv is [var argv0, var arg, ""] && argv0.EndsWith("sleep", StringComparison.Ordinal) && arg == duration)
                    return true; // the sandboxed sleep itself, not the tool whose arguments also mention it
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return false;
    }

    [Fact]
    public async Task ProgramInsideARoBindDirectoryIsNotMountedTwice()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--ro-bind", "/usr", "--", "/usr/bin/head", "-c", "4", "/usr/bin/head");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("\u007fELF", r.Stdout);
    }

    [Fact]
    public async Task ConflictingMountsAreACommandLineError()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--tmpfs", "/proc", "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("/proc", Assert.Single(r.ToolLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnlyStandardDescriptorsAreOpenInside()
    {
        // ls itself holds one more descriptor (3) for the directory it lists.
        CliOutcome r = await CliRunner.RunAsync("run", "--", "ls", "/proc/self/fd");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", "1", "2", "3"], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
