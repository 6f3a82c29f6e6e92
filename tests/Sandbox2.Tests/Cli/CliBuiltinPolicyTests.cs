using System.Text.Json;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Cli;

/// <summary>The built-in policies through <c>sandbox2 run --policy @NAME</c>, on the real programs they are made for: one test
/// per program (skipped with a note where the machine lacks it), unmodified, in the real sandbox.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CliBuiltinPolicyTests : IDisposable
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(300);
    private readonly ITestOutputHelper _output;
    private readonly string _dir;
    private readonly string _input;

    public CliBuiltinPolicyTests(ITestOutputHelper output)
    {
        _output = output;
        _dir = Directory.CreateTempSubdirectory("sandbox2-builtins-").FullName;
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);   // the sandbox runs as host uid 65534
        _input = Path.Combine(_dir, "in.txt");
        File.WriteAllText(_input, "pear\napple\nfig\n");
        File.SetUnixFileMode(_input, (UnixFileMode)0b110_100_100);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private bool Exists(string program)
    {
        if (File.Exists(program)) return true;
        _output.WriteLine($"{program} is not on this machine: nothing to run");
        return false;
    }

    private async Task<CliOutcome> Run(string policy, params string[] rest)
    {
        string result = Path.Combine(_dir, $"result-{Guid.NewGuid():N}.json");
        CliOutcome r = await CliRunner.RunSlowAsync(Slow, ["run", "--policy", policy, "--result", result, .. rest]);
        string json = File.Exists(result) ? File.ReadAllText(result) : "(no result)";
        Assert.True(r.ExitCode == 0, $"{r}\n--- result\n{json}");
        return r;
    }

    // ---- @default: shells, interpreters and tools that probe their surroundings ----

    [Fact]
    public async Task BashRunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/bash")) return;
        // getpeername(0) (bash's rshd probe), builtins, arithmetic, redirections, an interactive start with job control
        var r = await Run("@default", "--ro-bind", _input + ":/in.txt", "--", "/usr/bin/bash", "-c", "x=$((6*7)); read a < /in.txt; echo $x $a; type cd");
        Assert.StartsWith("42 pear\ncd is a shell builtin", r.Stdout);
        r = await Run("@default", "--", "/usr/bin/bash", "-i", "-c", "echo interactive");
        Assert.Contains("interactive", r.Stdout);
    }

    [Fact]
    public async Task ShRunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/sh")) return;
        var r = await Run("@default", "--", "/usr/bin/sh", "-c", "cd /tmp && echo $PWD && echo $((1+1))");
        Assert.Equal("/tmp\n2\n", r.Stdout);
    }

    [Fact]
    public async Task Python3RunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/python3")) return;
        // `import socket` (epoll_create1 at import), threads, hashing, sqlite, a temporary file, signals, getrandom
        const string script = "import socket, select, json, threading, hashlib, sqlite3, tempfile, signal, os\n"
            + "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
            + "e = select.epoll(); e.close()\n"
            + "db = sqlite3.connect(':memory:'); db.execute('create table t(a)')\n"
            + "f = tempfile.NamedTemporaryFile(); f.write(b'x'); f.flush()\n"
            + "signal.signal(signal.SIGALRM, lambda *a: None)\n"
            + "print(json.dumps({'sha': hashlib.sha256(os.urandom(8)).hexdigest()[:0], 'ok': 1}))\n";
        var r = await Run("@default", "--ro-bind", "/usr", "--", "/usr/bin/python3", "-c", script);
        Assert.Equal("{\"sha\": \"\", \"ok\": 1}\n", r.Stdout);
    }

    [Fact]
    public async Task PerlRunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/perl")) return;
        var r = await Run("@default", "--ro-bind", "/usr", "--ro-bind", _input + ":/in.txt", "--", "/usr/bin/perl", "-MPOSIX", "-e",
            "open(F, '<', '/in.txt') or die; my @l = sort <F>; print $l[0]; print floor(2.5), \"\\n\"");
        Assert.Equal("apple\n2\n", r.Stdout);
    }

    [Fact]
    public async Task AwkRunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/awk")) return;
        var r = await Run("@default", "--ro-bind", _input + ":/in.txt", "--", "/usr/bin/awk", "{ n += length($0) } END { print NR, n }", "/in.txt");
        Assert.Equal("3 12\n", r.Stdout);
    }

    [Fact]
    public async Task JqRunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/jq")) return;
        var r = await Run("@default", "--", "/usr/bin/jq", "-cn", "[range(3)] | map(. * 2)");
        Assert.Equal("[0,2,4]\n", r.Stdout);
    }

    [Fact]
    public async Task Sqlite3RunsUnderTheDefault()
    {
        if (!Exists("/usr/bin/sqlite3")) return;
        // a database file in /tmp: file locks (fcntl F_SETLK), journal, fsync, unlink
        var r = await Run("@default", "--", "/usr/bin/sqlite3", "/tmp/t.db", "create table t(a); insert into t values(41); select a+1 from t;");
        Assert.Equal("42\n", r.Stdout);
    }

    public static TheoryData<string[]> Coreutils => new()
    {
        { ["ls", "-la", "/"] }, { ["cat", "/in.txt"] }, { ["sort", "/in.txt"] }, { ["wc", "/in.txt"] }, { ["head", "-1", "/in.txt"] },
        { ["tail", "-1", "/in.txt"] }, { ["cut", "-c1", "/in.txt"] }, { ["uniq", "/in.txt"] }, { ["tac", "/in.txt"] }, { ["shuf", "/in.txt"] },
        { ["nl", "/in.txt"] }, { ["od", "-c", "/in.txt"] }, { ["sha256sum", "/in.txt"] }, { ["md5sum", "/in.txt"] }, { ["b2sum", "/in.txt"] },
        { ["base64", "/in.txt"] }, { ["cksum", "/in.txt"] }, { ["paste", "/in.txt", "/in.txt"] }, { ["fold", "-w2", "/in.txt"] },
        { ["pr", "/in.txt"] }, { ["ptx", "/in.txt"] }, { ["date"] }, { ["env"] }, { ["id"] }, { ["stat", "/in.txt"] }, { ["du", "-s", "/tmp"] },
        { ["df", "/"] }, { ["cp", "/in.txt", "/tmp/x"] }, { ["mkdir", "-p", "/tmp/a/b"] }, { ["touch", "/tmp/t"] }, { ["ln", "-s", "/in.txt", "/tmp/l"] },
        { ["mkfifo", "/tmp/fifo"] }, { ["mktemp"] }, { ["dd", "if=/in.txt", "of=/tmp/y"] }, { ["truncate", "-s", "1", "/tmp/z"] },
        { ["install", "-d", "/tmp/i"] }, { ["split", "/in.txt", "/tmp/s"] }, { ["seq", "3"] }, { ["expr", "1", "+", "1"] },
        { ["basename", "/a/b"] }, { ["realpath", "/in.txt"] }, { ["uname", "-a"] }, { ["nproc"] }, { ["sleep", "0.01"] }, { ["factor", "12"] },
        { ["numfmt", "--to=iec", "2048"] }, { ["sort", "-S", "1M", "--parallel=2", "/in.txt"] }, { ["sync"] }, { ["pwd"] }, { ["printenv"] },
        { ["true"] }, { ["comm", "/in.txt", "/in.txt"] }, { ["tr", "a-z", "A-Z"] }, { ["tee", "/tmp/tee"] }, { ["getconf", "-a"] },
        { ["nice", "-n", "1", "--help"] }, { ["ls", "-R", "/proc/self/fd"] }, { ["kill", "-l"] },
    };

    [Theory]
    [MemberData(nameof(Coreutils))]
    public async Task CoreutilsRunUnderTheDefault(string[] command)
    {
        string program = Path.Combine("/usr/bin", command[0]);
        if (!Exists(program)) return;
        await Run("@default", ["--ro-bind", _input + ":/in.txt", "--", program, .. command[1..]]);
    }

    [Fact]
    public async Task TheDefaultStillRefusesExecForkAndNetworking()
    {
        string result = Path.Combine(_dir, "r.json");
        foreach (string[] command in new string[][] { ["/usr/bin/env", "-i", "/usr/bin/true"], ["/usr/bin/sh", "-c", "/usr/bin/true; /usr/bin/true"] })
        {
            CliOutcome r = await CliRunner.RunAsync(["run", "--policy", "@default", "--result", result, "--", .. command]);
            Assert.True(r.ExitCode == 159, r.ToString());
            using var doc = JsonDocument.Parse(File.ReadAllText(result));
            string? name = doc.RootElement.GetProperty("violation").GetProperty("syscall").GetString();
            Assert.True(name is "execve" or "clone" or "vfork" or "fork", name);
        }
    }

    // ---- @subprocess ----

    private static readonly string[] Toolchain = ["--ro-bind", "/usr", "--ro-bind", "/lib", "--ro-bind", "/bin"];

    [Fact]
    public async Task ShellPipelinesRunUnderSubprocess()
    {
        if (!Exists("/usr/bin/sh")) return;
        var r = await Run("@subprocess", [.. Toolchain, "--ro-bind", _input + ":/in.txt", "--", "/usr/bin/sh", "-c", "cat /in.txt | sort | head -1; ls / | wc -l > /dev/null"]);
        Assert.Equal("apple\n", r.Stdout);
    }

    [Fact]
    public async Task TarWithGzipRunsUnderSubprocess()
    {
        if (!Exists("/usr/bin/tar") || !Exists("/usr/bin/gzip")) return;
        var r = await Run("@subprocess", [.. Toolchain, "--ro-bind", _dir + ":/data", "--cwd", "/tmp", "--", "/usr/bin/sh", "-c",
            "tar czf /tmp/a.tgz -C /data in.txt && tar tzf /tmp/a.tgz && gzip -dc /tmp/a.tgz | wc -c"]);
        Assert.StartsWith("in.txt\n", r.Stdout);
    }

    [Fact]
    public async Task MakeRunsUnderSubprocess()
    {
        if (!Exists("/usr/bin/make")) return;
        var r = await Run("@subprocess", [.. Toolchain, "--cwd", "/tmp", "--", "/usr/bin/sh", "-c",
            "printf 'all: b\\n\\techo made\\nb:\\n\\techo first > b\\n' > Makefile && make -s && cat b"]);
        Assert.Equal("made\nfirst\n", r.Stdout);
    }

    [Fact]
    public async Task GccCompilesAndLinksUnderSubprocess()
    {
        if (!Exists("/usr/bin/gcc")) return;
        var r = await Run("@subprocess", [.. Toolchain, "--cwd", "/tmp", "--", "/usr/bin/sh", "-c",
            "printf '#include <stdio.h>\\n#include <math.h>\\nint main(void){printf(\"%%d\\\\n\", (int)sqrt(1764.0));return 0;}\\n' > a.c && gcc -O1 -o a a.c -lm && ./a"]);
        Assert.Equal("42\n", r.Stdout);
    }

    [Fact]
    public async Task GxxCompilesAndLinksUnderSubprocess()
    {
        if (!Exists("/usr/bin/g++")) return;
        var r = await Run("@subprocess", [.. Toolchain, "--cwd", "/tmp", "--", "/usr/bin/sh", "-c",
            "printf '#include <iostream>\\n#include <vector>\\nint main(){std::vector<int> v{4,2};std::cout<<v[0]<<v[1]<<std::endl;}\\n' > a.cc && g++ -o a a.cc && ./a"]);
        Assert.Equal("42\n", r.Stdout);
    }

    // ---- @docker ----

    [Fact]
    public async Task LsSortAndPython3RunUnderDocker()
    {
        var r = await Run("@docker", "--", "/bin/ls", "-la", "/");
        Assert.Contains("proc", r.Stdout);
        Assert.Equal("", r.Stderr);   // the built-in profile's import notes are not printed
        r = await Run("@docker", "--ro-bind", _input + ":/in.txt", "--", "/usr/bin/sort", "/in.txt");
        Assert.Equal("apple\nfig\npear\n", r.Stdout);
        if (!Exists("/usr/bin/python3")) return;
        // asyncio's self-pipe is a socketpair: Docker allows AF_UNIX sockets
        r = await Run("@docker", "--ro-bind", "/usr", "--", "/usr/bin/python3", "-c",
            "import asyncio, socket; asyncio.run(asyncio.sleep(0)); print(socket.socket(socket.AF_UNIX).family.name)");
        Assert.Equal("AF_UNIX\n", r.Stdout);
    }

    [Fact]
    public async Task DockerStillKeepsTheSandboxsAlwaysOnRules()
    {
        string result = Path.Combine(_dir, "r.json");
        // ptrace: Docker allows it on kernels >= 4.8; in a sandbox it is always a violation
        CliOutcome r = await CliRunner.RunAsync("run", "--policy", "@docker", "--result", result, "--", CliRunner.Testcase("cli_syscall"), CliRunner.PtraceNumber);
        Assert.True(r.ExitCode == 159, r.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(result));
        Assert.Equal("ptrace", doc.RootElement.GetProperty("violation").GetProperty("syscall").GetString());
    }

    [Fact]
    public async Task AUserProfileIsLoadedAndItsWarningsPrinted()
    {
        string profile = Path.Combine(_dir, "p.json");
        string result = Path.Combine(_dir, "r.json");
        using (var s = typeof(OciSeccompProfile).Assembly.GetManifestResourceStream("Sandbox2.Policy.docker-default.json")!)
        using (var f = File.Create(profile))
            s.CopyTo(f);
        CliOutcome r = await CliRunner.RunAsync("run", "--policy", profile, "--", "/bin/echo", "from a profile");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("from a profile\n", r.Stdout);
        Assert.Contains("riscv_hwprobe", r.Stderr);   // a name no x86 ABI knows is reported
        File.WriteAllText(profile, "{\n \"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\", } ]\n}");
        r = await CliRunner.RunAsync("run", "--policy", profile, "--result", result, "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(profile + ":3:", r.Stderr);
        Assert.False(File.Exists(result));
        r = await CliRunner.RunAsync("run", "--policy", "@nope", "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("@default, @subprocess, @dotnet, @docker", r.Stderr);
    }

    // ---- @dotnet ----

    [Fact]
    public async Task AFrameworkDependentDotNetProgramRunsUnderDotnet()
    {
        // The CLI's own build is a framework-dependent app: the dotnet host resolves and loads the runtime, the JIT compiles.
        string cliDir = Path.GetDirectoryName(CliRunner.ToolPath)!;
        string dll = Path.Combine(cliDir, "Sandbox2.Cli.dll");
        const string host = "/usr/share/dotnet/dotnet";
        if (!Exists(host) || !Exists(dll)) return;
        var r = await Run("@dotnet", "--ro-bind", "/usr", "--ro-bind", cliDir, "--", host, "exec", dll, "--version");
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Stdout);
    }

    [Fact]
    public async Task ANativeAotDotNetProgramRunsUnderDotnet()
    {
        // The published CLI (dotnet publish src/Sandbox2.Cli -c Release) is a NativeAOT program.
        string aot = Path.Combine(CliRunner.ArtifactsDir, "publish", "Sandbox2.Cli", "release", "sandbox2");
        if (!Exists(aot)) return;
        var r = await Run("@dotnet", "--", aot, "--version");
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Stdout);
    }
}
