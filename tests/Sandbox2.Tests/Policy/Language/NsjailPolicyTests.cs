using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy.Language;

/// <summary>nsjail's shipped config policies (copies in nsjail/, see its README) load unchanged, decide as nsjail
/// means them to, and compile; their sizes are printed beside Kafel's own numbers.</summary>
public class NsjailPolicyTests(ITestOutputHelper output)
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Policy", "Language", "nsjail");

    public static TheoryData<string> Files() => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Policy", "Language", "nsjail"), "*.policy").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(Files))]
    public void LoadsUnchangedAndCompiles(string file)
    {
        var doc = PolicyLanguage.Load(Path.Combine(Dir, file));
        Assert.DoesNotContain(doc.Warnings, w => !w.Message.Contains("ptrace", StringComparison.Ordinal));
        var policy = doc.ToBuilder().Build();
        int withMonitor = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 1)).Length;
        int bare = policy.Compile(new PolicyCompileOptions(MonitorAttached: false)).Length;
        output.WriteLine($"{file}: {bare} instructions (no exec nonce), {withMonitor} as the sandbox installs it");
    }

    [Theory]
    [InlineData("apache.policy", "ptrace", "KILL")]
    [InlineData("apache.policy", "process_vm_readv", "KILL_PROCESS")]
    [InlineData("apache.policy", "getpid", "ALLOW")]
    [InlineData("bash-with-fake-geteuid.policy", "geteuid", "ERRNO(1337)")]
    [InlineData("bash-with-fake-geteuid.policy", "ptrace", "ERRNO(0)")]
    [InlineData("bash-with-fake-geteuid.policy", "syslog", "KILL_PROCESS")]
    [InlineData("bash-with-fake-geteuid.policy", "read", "ALLOW")]
    [InlineData("imagemagick-convert.policy", "newstat", "ALLOW")]
    [InlineData("imagemagick-convert.policy", "socket", "KILL_PROCESS")]
    [InlineData("firefox-with-net-X11.policy", "io_uring_setup", "ERRNO(38)")]
    [InlineData("hexchat-with-net.policy", "sched_setaffinity", "ERRNO(1)")]
    [InlineData("static-busybox-with-execveat.policy", "ptrace", "ERRNO(0)")]
    [InlineData("static-busybox-with-execveat.policy", "x32:1", "KILL")]
    public void DecidesAsNsjailMeansIt(string file, string call, string expected)
    {
        var policy = PolicyLanguage.Load(Path.Combine(Dir, file)).ToBuilder().Build();
        var syscall = ConformanceTests.ParseCall(call);
        Assert.Equal(expected, policy.Evaluate(syscall).ToPolicyWord());
        Assert.Equal(ConformanceTests.Ret(expected), policy.Compile(default).Run(syscall.ToSeccompData()));
    }
}
