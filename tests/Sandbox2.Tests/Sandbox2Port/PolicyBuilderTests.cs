namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>policybuilder_test.cc</c>. See docs/sandbox2-test-map.md.</summary>
public sealed class PolicyBuilderTests
{
    [Fact]
    public void PolicyBuilderTest_Testpolicy_size()
    {
        var b = new PolicyBuilder();
        int last = 0;
        void Increased() { Assert.True(b.RuleCount > last, $"{b.RuleCount} rules, was {last}"); last = b.RuleCount; }
        void Same() => Assert.Equal(last, b.RuleCount);

        Same();
        b.AllowSyscall("chroot"); Increased();
        b.AllowSyscall("chroot"); Same();
        b.AllowSyscall("umask"); Increased();
        b.AllowSyscall("umask"); Same();
        b.AllowSyscall("chroot"); Same();
        b.AllowSystemMalloc(); Increased();
        b.AllowSyscall("munmap"); Same();
        b.BlockSyscallWithErrno("openat", 1); Increased();
        b.AllowTCGETS(); Increased();
        b.AllowTCGETS(); Same();
        b.AddPolicyOnSyscall("fchmod", ArgCondition.True, SyscallAction.Allow); Increased();
        b.AddPolicyOnSyscalls(["fchmod", "chdir"], ArgCondition.True, SyscallAction.Allow); Increased();
        b.AddPolicyOnSyscall("umask", Arg.Of(0).Equal(0), SyscallAction.Allow); Increased();
        b.AddPolicyOnSyscall("umask", Arg.Of(0).Equal(0), SyscallAction.Allow); Increased(); // conditional rules are kept as written
        // None of the namespace functions alter the seccomp policy.
        b.AddFile("/usr/bin/find"); Same();
        b.AddDirectory("/bin"); Same();
        b.AddTmpfs("/tmp", 4UL << 20); Same();
        b.SetNetwork(NetworkMode.Host); Same();
        b.AddFileIfExists("/does/not/exist"); Same();
        b.SetRootWritable(); Same();
        b.UseSharedIpcNs(); Same();
        b.Build();
    }

    [Fact]
    public void PolicyBuilderTest_BlockAfterAllowIsAConflict()
    {
        // Sandbox2 silently keeps the first decision (AllowSyscall(munmap) then BlockSyscallWithErrno(munmap) is a no-op);
        // here a rule that can never apply is a mistake the builder names.
        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AllowSyscall("munmap").BlockSyscallWithErrno("munmap", 1).Build());
        Assert.Contains("munmap", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PolicyBuilderTest_TestValidateAbsolutePath()
    {
        foreach (var bad in (string[])["..", "a", "a/b", "a/b/c", "/a/b/c/../d", "/a/b/c/./d", "/a/b/c//d", "/a/b/c/d/", "/a/bAAAAAAAAAAAAAAAAAAAAAA/c/d/", "", "/a\0b"])
            Assert.Throws<PolicyException>(() => Mounts.ValidateInside(bad));
        foreach (var good in (string[])["/", "/a/b/c/d", "/a/b/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
            Mounts.ValidateInside(good);
    }

    [Fact]
    public void PolicyBuilderTest_TestCanOnlyBuildOnce()
    {
        var b = new PolicyBuilder();
        b.Build();
        var e = Assert.Throws<PolicyException>(() => b.Build());
        Assert.Contains("can only build once", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PolicyBuilderTest_CanBypassPtrace()
    {
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddPolicyOnSyscall("ptrace", ArgCondition.True, SyscallAction.Allow).BlockSyscallWithErrno("ptrace", 2));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddPolicyOnSyscall("bpf", Arg.Of(0).Equal(5), SyscallAction.Allow));
    }

    [Fact]
    public void PolicyBuilderTest_AddPolicyOnSyscallsNoEmptyList() =>
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddPolicyOnSyscalls(Array.Empty<string>(), ArgCondition.True, SyscallAction.Allow));

    [Fact]
    public void PolicyBuilderTest_TestFileIfExists()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-port-").FullName;
        string file = Path.Combine(dir, "f");
        File.WriteAllText(file, "x");
        try
        {
            var policy = new PolicyBuilder()
                .AddFileIfExists(Path.Combine(dir, "missing"))           // missing: ignored
                .AddFileIfExists(dir)                                     // a directory: ignored
                .AddDirectoryIfExists(Path.Combine(dir, "missing-dir"))  // missing: ignored
                .AddDirectoryIfExists(file)                               // a file: ignored
                .Build();
            Assert.Empty(policy.Namespace.Mounts.Entries);
            var both = new PolicyBuilder().AddFileIfExists(file).AddDirectoryIfExists(dir).Build();
            Assert.Equal([dir, file], both.Namespace.Mounts.Entries.Select(e => e.Inside).Order(StringComparer.Ordinal));
            Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileIfExists("relative/path")); // still validated
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
