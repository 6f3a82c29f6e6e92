using Sandbox2.Bpf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy;

/// <summary>The OCI / Docker seccomp profile importer: Docker's real default profile (size, the kernel's action cache,
/// model = BPF = kernel), and each semantic pitfall of the format, checked with the model, the BPF interpreter and live.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class OciSeccompProfileTests(ITestOutputHelper output)
{
    private const ulong Nonce = 0x9e3779b97f4a7c15;
    private static readonly PolicyCompileOptions Sandboxed = new(MonitorAttached: false, ExecNonce: Nonce);

    private static Sandbox2.Policy Docker() => OciSeccompProfile.DockerDefault.ApplyTo(new PolicyBuilder()).Build();

    private static int Nr(string name) => SyscallTable.GetNumber(name);

    private static SyscallAction Eval(Sandbox2.Policy p, string name, params ulong[] args) =>
        p.Evaluate(new Syscall(SyscallArch.X86_64, Nr(name), args));

    private static uint Run(BpfProgram program, int nr, params ulong[] args) =>
        program.Run(new SeccompData(nr, SeccompReturn.AuditArchX86_64, args));

    [Fact]
    public void DockersDefaultProfileIsTheUpstreamFileUnchanged()
    {
        // moby/profiles seccomp/default.json at 02e898b137aed1024e232d59bcb05e6179b72177: 17,219 bytes, entry 0 allows 361 names.
        using var stream = typeof(OciSeccompProfile).Assembly.GetManifestResourceStream("Sandbox2.Policy.docker-default.json")!;
        Assert.Equal(17219, stream.Length);
        var doc = System.Text.Json.JsonDocument.Parse(stream);
        Assert.Equal(361, doc.RootElement.GetProperty("syscalls")[0].GetProperty("names").GetArrayLength());
    }

    [Fact]
    public void DockersDefaultProfileImportsWithinLibseccompsSizeAndKeepsEveryUnconditionalAllowCached()
    {
        var profile = OciSeccompProfile.DockerDefault;
        foreach (string w in profile.Warnings) output.WriteLine("warning: " + w);
        foreach (string n in profile.Notes) output.WriteLine("note: " + n);
        var policy = Docker();
        var program = policy.Compile(Sandboxed);
        var monitored = policy.Compile(Sandboxed with { MonitorAttached = true });
        output.WriteLine($"@docker: {profile.Rules.Count} rules, {program.Length} BPF instructions (libseccomp 2.5.4, x86-64 only: 337)");
        Assert.True(program.Length <= 337, $"{program.Length} instructions");
        Assert.Equal(program.Length, monitored.Length);

        // Every syscall the profile allows by name alone must be decided by arch and nr only: the kernel's cache emulation
        // (seccomp_is_const_allow) must find it constant ALLOW. Exceptions: the always-on argument checks.
        // (W^X on mappings, namespace flags, nested filters, the exec nonce; issue 9's set-id mode bits on open/creat/chmod/
        // mknod and their *at forms, openat2 answered ENOSYS, prctl limited to the listed options.)
        int[] alwaysOnChecked = [Nr("mmap"), Nr("mprotect"), Nr("pkey_mprotect"), Nr("clone"), Nr("unshare"), Nr("seccomp"), Nr("execveat"), Nr("sendmsg"),
            Nr("open"), Nr("creat"), Nr("chmod"), Nr("fchmod"), Nr("mknod"), Nr("prctl"), Nr("openat"), Nr("mknodat"), Nr("fchmodat"), Nr("openat2"), Nr("fchmodat2")];
        var unconditional = profile.Rules.Where(r => r.When is null && r.Action == SyscallAction.Allow).Select(r => r.Number).ToHashSet();
        var cached = SeccompActionCache.CachedSyscalls(program).ToHashSet();
        var missing = unconditional.Where(nr => !alwaysOnChecked.Contains(nr) && !cached.Contains(nr)).ToList();
        Assert.True(missing.Count == 0, "not cached: " + string.Join(", ", missing.Select(n => SyscallTable.Find(n)!.Name)));
        // ... and nothing else is: socket, personality and clone run the filter, and no denied syscall is cached.
        Assert.All(cached, nr => Assert.Contains(nr, unconditional));
        Assert.DoesNotContain(Nr("socket"), cached);
        Assert.DoesNotContain(Nr("personality"), cached);
        output.WriteLine($"{unconditional.Count} unconditional allows, {cached.Count} cached by the kernel's emulation");
        int expected = unconditional.Count(nr => !alwaysOnChecked.Contains(nr));
        Assert.True(cached.Count >= expected && expected >= 280, $"only {cached.Count} of {expected} cached");
    }

    [Fact]
    public void DockersDefaultProfileDecidesAsDockerDoes()
    {
        var p = Docker();
        Assert.Equal(SyscallAction.Allow, Eval(p, "read"));
        Assert.Equal(SyscallAction.Allow, Eval(p, "execve"));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "mount"));            // default: EPERM (defaultErrnoRet 1)
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "keyctl"));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "open_by_handle_at")); // needs CAP_DAC_READ_SEARCH: none held
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "io_uring_setup"));
        Assert.Equal(SyscallAction.Allow, Eval(p, "arch_prctl"));          // includes.arches amd64
        Assert.Equal(SyscallAction.Allow, Eval(p, "modify_ldt"));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "iopl"));              // CAP_SYS_RAWIO
        Assert.Equal(SyscallAction.Violation, Eval(p, "ptrace"));          // minKernel 4.8 allows it; never in a sandbox
        Assert.Equal(SyscallAction.Allow, Eval(p, "process_vm_readv"));    // minKernel 4.8 (this kernel is newer)
        Assert.Equal(SyscallAction.Errno(38), Eval(p, "clone3"));
        // socket: the families Docker lists (AF_UNIX 1, AF_INET 2, AF_INET6 10, AF_NETLINK 16, ...); AF_ALG 38 and AF_VSOCK 40 not
        Assert.Equal(SyscallAction.Allow, Eval(p, "socket", 1));
        Assert.Equal(SyscallAction.Allow, Eval(p, "socket", 10));
        Assert.Equal(SyscallAction.Allow, Eval(p, "socket", 16));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "socket", 38));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "socket", 40));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "socket", 12));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "socket", 1UL << 32 | 1));   // 64-bit comparison, as libseccomp's
        // personality: the five values
        Assert.Equal(SyscallAction.Allow, Eval(p, "personality", 0xffffffff));
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "personality", 0x0040000));
        // clone: MASKED_EQ with mask 0x7E020000 and datum 0 (valueTwo absent): threads yes, namespaces no
        Assert.Equal(SyscallAction.Allow, Eval(p, "clone", 0x3d0f00));
        Assert.Equal(SyscallAction.Violation, Eval(p, "clone", 0x3d0f00 | 0x10000000));   // the always-on rule is stricter than EPERM
        // foreign ABIs: always violations although the archMap lists x86 and x32
        Assert.Equal(SyscallAction.Violation, p.Evaluate(new Syscall(SyscallArch.X86_32, 3, [])));
        Assert.Equal(SyscallAction.Violation, p.Evaluate(new Syscall(SyscallArch.X32, 0, [])));
        // newer than every syscall the profile names: ENOSYS (runc's stub), not EPERM
        int highest = OciSeccompProfile.DockerDefault.HighestNamed!.Value;
        Assert.Equal(SyscallAction.Errno(38), p.Evaluate(new Syscall(SyscallArch.X86_64, highest + 1, [])));
        Assert.Equal(SyscallAction.Errno(38), p.Evaluate(new Syscall(SyscallArch.X86_64, 0x3fffffff, [])));
        Assert.Equal(SyscallAction.Errno(1), p.Evaluate(new Syscall(SyscallArch.X86_64, Nr("kexec_load"), [])));
    }

    [Fact]
    public void ModelBpfAndKernelAgreeOnDockersProfile()
    {
        var p = Docker();
        var program = p.Compile(Sandboxed);
        var rnd = new Random(11);
        ulong[][] argSets = [[0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6], [38, 0, 0, 0, 0, 0], [0x7e020000, 0, 0, 0, 0, 0], [0xffffffff, 0, 0, 0, 0, 0]];
        for (int nr = 0; nr < 600; nr++)
        {
            foreach (var args in argSets.Append(Enumerable.Range(0, 6).Select(_ => (ulong)rnd.NextInt64()).ToArray()))
            {
                var data = new SeccompData(nr, SeccompReturn.AuditArchX86_64, args);
                Assert.Equal(SeccompReturn.For(p.Evaluate(data, Sandboxed), false), program.Run(data));
            }
        }
        // Live: the kernel does what the interpreter says for the interesting cases (errno values, ENOSYS above, allow).
        (string Name, int Nr, ulong[] Args)[] live =
        [
            ("keyctl", Nr("keyctl"), [0]), ("socket AF_ALG", Nr("socket"), [38, 5, 0]), ("socket AF_UNIX", Nr("socket"), [1, 1, 0]),
            ("personality query", Nr("personality"), [0xffffffff]), ("clone3", Nr("clone3"), [0, 0]),
            ("above the profile", OciSeccompProfile.DockerDefault.HighestNamed!.Value + 1, []), ("getppid", Nr("getppid"), []),
        ];
        foreach (var (name, nr, args) in live)
        {
            var expected = LiveOutcome.Expected(Run(program, nr, args), SeccompRunner.Run(null, nr, args));
            var actual = SeccompRunner.Run(program, nr, args);
            Assert.True(expected.Matches(actual), $"{name}: expected {expected}, kernel did {actual}");
        }
    }

    private static OciSeccompProfile Parse(string json, OciImportOptions? options = null) => OciSeccompProfile.Parse(json, "t.json", options);

    private static Sandbox2.Policy Build(string json, OciImportOptions? options = null) => Parse(json, options).ApplyTo(new PolicyBuilder()).Build();

    [Fact]
    public void MaskedEqUsesValueAsMaskAndValueTwoAsDatum()
    {
        var p = Build("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["fcntl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":240,"valueTwo":16,"op":"SCMP_CMP_MASKED_EQ"}]},
              {"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":240,"op":"SCMP_CMP_MASKED_EQ"}]}]}
            """);
        Assert.Equal(SyscallAction.Allow, Eval(p, "fcntl", 0, 0x13));     // 0x13 & 0xf0 == 0x10
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "fcntl", 0, 0x23));
        Assert.Equal(SyscallAction.Allow, Eval(p, "ioctl", 0, 0x0f));      // datum absent = 0
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "ioctl", 0, 0x1f));
    }

    [Fact]
    public void ConditionsOnDifferentArgumentsAreAndedAndRepeatedIndicesAreOredWithAWarning()
    {
        var and = Build("""
            {"defaultAction":"SCMP_ACT_KILL","syscalls":[{"names":["write"],"action":"SCMP_ACT_ALLOW",
              "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":2,"value":100,"op":"SCMP_CMP_LT"}]}]}
            """);
        Assert.Equal(SyscallAction.Allow, Eval(and, "write", 1, 0, 5));
        Assert.Equal(SyscallAction.Violation, Eval(and, "write", 1, 0, 500));
        Assert.Equal(SyscallAction.Violation, Eval(and, "write", 2, 0, 5));

        var profile = Parse("""
            {"defaultAction":"SCMP_ACT_KILL","syscalls":[{"names":["write"],"action":"SCMP_ACT_ALLOW",
              "args":[{"index":0,"value":1,"op":"SCMP_CMP_NE"},{"index":0,"value":2,"op":"SCMP_CMP_NE"}]}]}
            """);
        Assert.Contains(profile.Warnings, w => w.Contains("syscalls[0]") && w.Contains("ORed"));
        var or = profile.ApplyTo(new PolicyBuilder()).Build();
        // runc: each condition its own rule, so "fd != 1 || fd != 2" allows every fd (two != on one index block nothing)
        foreach (ulong fd in new ulong[] { 1, 2, 3 })
            Assert.Equal(SyscallAction.Allow, Eval(or, "write", fd));
    }

    [Fact]
    public void CapabilitiesCountAsNoneHeldAndArchesAndMinKernelAreMatched()
    {
        const string json = """
            {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":13,"syscalls":[
              {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
              {"names":["chroot"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_CHROOT"]}},
              {"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"]}},
              {"names":["write"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}},
              {"names":["close"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}},
              {"names":["getpid"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"5.4"}},
              {"names":["getppid"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"7.1"}},
              {"names":["gettid"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"6.1"}},
              {"names":["tee"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}
            """;
        var p = Build(json, new OciImportOptions(KernelVersion: new Version(6, 18, 0)));
        Assert.Equal(SyscallAction.Errno(13), Eval(p, "mount"));     // defaultErrnoRet
        Assert.Equal(SyscallAction.Allow, Eval(p, "chroot"));
        Assert.Equal(SyscallAction.Allow, Eval(p, "read"));
        Assert.Equal(SyscallAction.Errno(13), Eval(p, "write"));
        Assert.Equal(SyscallAction.Errno(13), Eval(p, "close"));
        Assert.Equal(SyscallAction.Allow, Eval(p, "getpid"));
        Assert.Equal(SyscallAction.Errno(13), Eval(p, "getppid"));
        Assert.Equal(SyscallAction.Errno(13), Eval(p, "gettid"));
        var old = Build(json, new OciImportOptions(KernelVersion: new Version(5, 10)));
        Assert.Equal(SyscallAction.Allow, Eval(old, "gettid"));
    }

    [Theory]
    [InlineData("SCMP_ACT_KILL", "violation")]
    [InlineData("SCMP_ACT_KILL_THREAD", "violation")]
    [InlineData("SCMP_ACT_KILL_PROCESS", "violation")]
    [InlineData("SCMP_ACT_TRAP", "violation")]
    [InlineData("SCMP_ACT_ERRNO", "errno 5")]
    [InlineData("SCMP_ACT_TRACE", "errno 38")]
    [InlineData("SCMP_ACT_LOG", "allow")]
    [InlineData("SCMP_ACT_ALLOW", "allow")]
    public void EveryActionTranslates(string action, string expected)
    {
        var p = Build($$"""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid"],"action":"{{action}}","errnoRet":5}]}""");
        Assert.Equal(expected, Eval(p, "getpid").ToString());
    }

    [Fact]
    public void KillIsAViolationInTheKernelToo()
    {
        var program = Build("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL"}]}""").Compile(Sandboxed);
        Assert.Equal(LiveOutcome.Sigsys, SeccompRunner.Run(program, Nr("getppid"), []).Signal);
        Assert.True(SeccompRunner.Run(program, Nr("getpid"), []).Returned);
    }

    [Fact]
    public void UnknownNamesAreReportedNotSilentlyDropped()
    {
        const string json = """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","reed","chown32","frobnicate"],"action":"SCMP_ACT_ALLOW"}]}""";
        var profile = Parse(json);
        var warning = Assert.Single(profile.Warnings);
        Assert.Contains("2 syscall names are not known", warning);
        Assert.Contains("reed, frobnicate", warning);
        Assert.Contains(profile.Notes, n => n.Contains("chown32"));
        var e = Assert.Throws<PolicyException>(() => Parse(json, new OciImportOptions(FailOnUnknownNames: true)));
        Assert.Contains("reed", e.Message);
    }

    [Fact]
    public void SyscallsNewerThanTheProfileGetEnosysUnlessTheDefaultAllows()
    {
        var p = Build("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","openat2"],"action":"SCMP_ACT_ALLOW"}]}""");
        Assert.Equal(SyscallAction.Errno(1), Eval(p, "pidfd_open"));       // 434 < openat2's 437: EPERM
        Assert.Equal(SyscallAction.Errno(38), Eval(p, "pidfd_getfd"));     // 438: newer than the profile
        Assert.Equal(SyscallAction.Errno(38), Eval(p, "mseal"));
        var program = p.Compile(Sandboxed);
        Assert.Equal(SeccompReturn.Errno | 38, Run(program, Nr("pidfd_getfd")));
        Assert.Equal(SeccompReturn.Errno | 1, Run(program, Nr("ptrace") + 1));
        Assert.Equal(SeccompReturn.Errno | 38, Run(program, 100_000));
        var allowing = Build("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}""");
        Assert.Equal(SyscallAction.Allow, Eval(allowing, "mseal"));
        Assert.Equal(SyscallAction.Errno(1), Eval(allowing, "read"));     // errnoRet absent: EPERM
    }

    [Fact]
    public void PtraceAndBpfStayViolationsAndTheAlwaysOnRulesHold()
    {
        var profile = Parse("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace","bpf"],"action":"SCMP_ACT_ALLOW"}]}""");
        var p = profile.ApplyTo(new PolicyBuilder()).Build();
        Assert.Equal(SyscallAction.Violation, Eval(p, "ptrace"));
        Assert.Equal(SyscallAction.Violation, Eval(p, "bpf"));
        Assert.Equal(SyscallAction.Violation, Eval(p, "clone", 0x10000000));
        Assert.Equal(SyscallAction.Errno(38), Eval(p, "clone3"));
        Assert.Equal(SyscallAction.Violation, p.Evaluate(new Syscall(SyscallArch.X86_32, 20, [])));
        Assert.Equal(2, profile.Warnings.Count(w => w.Contains("never allowed")));
        var blocked = Build("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}""");
        Assert.Equal(SyscallAction.Errno(1), Eval(blocked, "ptrace"));
    }

    [Fact]
    public void AnUnconditionalRuleWinsOverConditionalOnesAndConflictsAreReported()
    {
        var profile = Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,"args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
              {"names":["socket","read"],"action":"SCMP_ACT_ALLOW"},
              {"names":["read"],"action":"SCMP_ACT_KILL"}]}
            """);
        var p = profile.ApplyTo(new PolicyBuilder()).Build();
        Assert.Equal(SyscallAction.Allow, Eval(p, "socket", 2));
        Assert.Equal(SyscallAction.Allow, Eval(p, "read"));
        Assert.Contains(profile.Warnings, w => w.Contains("socket") && w.Contains("conditional entries are left out"));
        Assert.Contains(profile.Warnings, w => w.Contains("syscalls[2]") && w.Contains("left out"));
    }

    [Theory]
    [InlineData("""{"syscalls":[]}""", "defaultAction is missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_NOPE"}""", "unknown action 'SCMP_ACT_NOPE'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000}""", "errno 5000 is out of range")]
    [InlineData("""{"defaultAction":"SCMP_ACT_NOTIFY"}""", "listenerPath")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0]: names is missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}""", "index 6 is out of range")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}""", "unknown op 'SCMP_CMP_XX'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[]}""", "mutually exclusive")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"five"}}]}""", "minKernel 'five'")]
    [InlineData("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [ { \"names\": [\"read\"], } ]\n}", "t.json:3:")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":-1}""", "t.json:1:")]
    [InlineData("null", "empty")]
    public void MalformedProfilesAreRefusedWithTheReason(string json, string expected)
    {
        var e = Assert.Throws<PolicyException>(() => Build(json));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("t.json:", e.Message);
    }

    [Fact]
    public void UnknownKeysAndIgnoredFieldsAreReported()
    {
        var profile = Parse("""{"defaultAction":"SCMP_ACT_ALLOW","defualtErrnoRet":1,"flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","arg":[]}]}""");
        Assert.Contains(profile.Warnings, w => w.Contains("defualtErrnoRet"));
        Assert.Contains(profile.Warnings, w => w.Contains("syscalls[0].arg"));
        Assert.Contains(profile.Warnings, w => w.Contains("SECCOMP_FILTER_FLAG_LOG"));
    }

    [Fact]
    public void LoadReadsAFileAndPolicyFilesRecognisesJson()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sandbox2-oci-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"}]}""");
        try
        {
            Assert.Equal(PolicyFileKind.OciProfile, PolicyFiles.GetKind(path));
            Assert.Equal(PolicyFileKind.Builtin, PolicyFiles.GetKind("@docker"));
            Assert.Equal(PolicyFileKind.PolicyLanguage, PolicyFiles.GetKind("my.policy"));
            var p = PolicyFiles.Load(path).Build();
            Assert.Equal(SyscallAction.Allow, Eval(p, "read"));
            Assert.Equal(SyscallAction.Errno(1), Eval(p, "write"));
            var e = Assert.Throws<PolicyException>(() => PolicyFiles.Load(path + ".missing.json"));
            Assert.Contains("cannot read", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
