namespace Sandbox2.Tests.Execution;

/// <summary>Sandbox2's mount validation and the ELF library resolution (no kernel needed).</summary>
public class MountsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("relative/path")]
    [InlineData("/a//b")]
    [InlineData("/a/./b")]
    [InlineData("/a/../b")]
    [InlineData("/a/")]
    [InlineData("/a\0b")]
    public void NonCanonicalInsidePathsAreRefused(string inside)
    {
        var ex = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt("/bin/true", inside));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void KindsAndExistenceAreChecked()
    {
        Assert.Contains("is a directory", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFile("/usr")).Message, StringComparison.Ordinal);
        Assert.Contains("not a directory", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectory("/bin/true")).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFile("/no/such/file")).Message, StringComparison.Ordinal);
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt("/bin/true", "/"));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectoryAt("/usr", "/"));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddTmpfs("/t", 0));
    }

    [Fact]
    public void SamePathTwice_IdenticalOrUpgradeIsFine_OtherwiseAConflict()
    {
        var b = new PolicyBuilder().AddDirectoryAt("/usr", "/u").AddDirectoryAt("/usr", "/u").AddDirectoryAt("/usr", "/u", writable: true)
            .AddDirectoryAt("/usr", "/u"); // RW then RO stays RW
        var entry = Assert.Single(b.Build().Namespace.Mounts.Entries);
        Assert.True(entry.Writable);
        var ex = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectoryAt("/usr", "/x").AddDirectoryAt("/etc", "/x"));
        Assert.Contains("conflicting mounts at /x", ex.Message, StringComparison.Ordinal);
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddTmpfs("/x", 1 << 20).AddDirectoryAt("/etc", "/x"));
        // Symlinked sources that resolve to the same file are the same mount.
        new PolicyBuilder().AddFileAt("/lib64/ld-linux-x86-64.so.2", "/ld").AddFileAt(Mounts.ResolveLinks("/lib64/ld-linux-x86-64.so.2"), "/ld");
    }

    [Fact]
    public void AFileCannotBeTheParentOfAnotherMount()
    {
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt("/bin/true", "/a").AddTmpfs("/a/b", 1 << 20));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddTmpfs("/a/b", 1 << 20).AddFileAt("/bin/true", "/a"));
    }

    [Fact]
    public void MountOpsCreateParentsFirstAndUseSandbox2sFlags()
    {
        var ops = new PolicyBuilder().AddFileAt("/bin/true", "/x/y/true").AddDirectoryAt("/usr", "/x", writable: true).AddProc()
            .Build().Namespace.Mounts.ToMountOps();
        int dirBind = ops.FindIndex(o => o.Kind == MountOpKind.Bind && o.Target == "/x");
        int fileBind = ops.FindIndex(o => o.Kind == MountOpKind.Bind && o.Target == "/x/y/true");
        Assert.True(dirBind >= 0 && fileBind > dirBind);
        Assert.Equal(MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, ops[dirBind].Flags);
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoDev, ops[fileBind].Flags);
        Assert.Contains(ops, o => o.Kind == MountOpKind.Proc && o.Target == "/proc");
    }

    [Fact]
    public void LibrariesOfADynamicProgramAreResolvedRecursively()
    {
        var libs = ElfDependencies.ResolveLibraries("/bin/ls");
        Assert.Contains(libs, l => l.EndsWith("/ld-linux-x86-64.so.2", StringComparison.Ordinal));
        Assert.Contains(libs, l => l.EndsWith("/libc.so.6", StringComparison.Ordinal));
        Assert.Contains(libs, l => l.EndsWith("/libselinux.so.1", StringComparison.Ordinal));
        Assert.Contains(libs, l => l.EndsWith("/libpcre2-8.so.0", StringComparison.Ordinal)); // needed by libselinux: recursion
        Assert.Equal(libs.Count, libs.Distinct().Count());
        var policy = new PolicyBuilder().AddLibrariesForBinary("/bin/ls").Build();
        Assert.All(libs, l => Assert.True(policy.Namespace.Mounts.Covers(l, l), l));
        // A static program needs nothing.
        Assert.Empty(ElfDependencies.ResolveLibraries(Sandbox2.Tests.Policy.SeccompRunner.Testcase("hello-static")));
    }

    [Fact]
    public void NonElfAndTruncatedFilesAreClearErrors()
    {
        string text = Path.GetTempFileName();
        string cut = Path.GetTempFileName();
        try
        {
            File.WriteAllText(text, "#!/bin/sh\necho hi\n");
            Assert.Contains("not an ELF file", Assert.Throws<PolicyException>(() => ElfDependencies.ResolveLibraries(text)).Message, StringComparison.Ordinal);
            File.WriteAllBytes(cut, File.ReadAllBytes("/bin/ls").AsSpan(0, 200).ToArray());
            Assert.Throws<PolicyException>(() => ElfDependencies.ResolveLibraries(cut));
        }
        finally
        {
            File.Delete(text);
            File.Delete(cut);
        }
    }
}
