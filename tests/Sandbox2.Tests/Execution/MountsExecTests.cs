namespace Sandbox2.Tests.Execution;

/// <summary>Sandbox2's mount-tree rules (mounts.cc): validation at the call, conflicts, and the plan's ordered operations.</summary>
public class MountsExecTests
{
    [Theory]
    [InlineData("", "empty")]
    [InlineData("relative/path", "not absolute")]
    [InlineData("/a/", "trailing /")]
    [InlineData("/a//b", "//")]
    [InlineData("/a/./b", "(.)")]
    [InlineData("/a/../b", "(..)")]
    [InlineData("/a\0b", "NUL")]
    public void InsidePathsMustBeAbsoluteAndCanonical(string inside, string problem)
    {
        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt("/etc/hostname", inside));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddTmpfs(inside, 1 << 20));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectoryAt("/usr", inside));
    }

    [Fact]
    public void KindsAreChecked()
    {
        Assert.Contains("/usr is a directory", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFile("/usr")).Message, StringComparison.Ordinal);
        Assert.Contains("/etc/hostname is not a directory", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectory("/etc/hostname")).Message, StringComparison.Ordinal);
        Assert.Contains("/no/such/file does not exist", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFile("/no/such/file")).Message, StringComparison.Ordinal);
        Assert.Contains("not absolute", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt("etc/hostname", "/h")).Message, StringComparison.Ordinal);
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt("/etc/hostname", "/"));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectoryAt("/usr", "/"));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddTmpfs("/tmp", 0));
    }

    [Fact]
    public void SamePathTwice_IdenticalOk_UpgradeOk_ElseConflict()
    {
        var m = new Mounts();
        m.AddFile("/etc/hostname");
        m.AddFile("/etc/hostname"); // identical
        Assert.Single(m.Entries);
        m.AddFile("/etc/hostname", writable: true); // RO -> RW upgrade
        Assert.True(Assert.Single(m.Entries).Writable);
        m.AddFile("/etc/hostname"); // RW then RO stays RW
        Assert.True(Assert.Single(m.Entries).Writable);

        var e = Assert.Throws<PolicyException>(() => m.AddFileAt("/etc/passwd", "/etc/hostname"));
        Assert.Contains("conflicting mounts at /etc/hostname", e.Message, StringComparison.Ordinal);
        Assert.Throws<PolicyException>(() => m.AddTmpfs("/etc/hostname", 1 << 20));

        var t = new Mounts();
        t.AddTmpfs("/tmp", 1 << 20);
        Assert.Throws<PolicyException>(() => t.AddTmpfs("/tmp", 2 << 20));
    }

    [Fact]
    public void SymlinkedSourcesToTheSameFileAreTheSame()
    {
        // Debian's merged /usr: /bin -> usr/bin.
        var m = new Mounts();
        m.AddFileAt("/bin/ls", "/bin/ls");
        m.AddFileAt("/usr/bin/ls", "/bin/ls");
        Assert.Equal("/usr/bin/ls", Assert.Single(m.Entries).Outside);
    }

    [Fact]
    public void AFileCannotBeTheParentOfAnotherMount()
    {
        var m = new Mounts();
        m.AddFileAt("/etc/hostname", "/a");
        Assert.Contains("/a is a file mount", Assert.Throws<PolicyException>(() => m.AddDirectoryAt("/usr", "/a/b")).Message, StringComparison.Ordinal);
        var n = new Mounts();
        n.AddDirectoryAt("/usr", "/a/b");
        Assert.Throws<PolicyException>(() => n.AddFileAt("/etc/hostname", "/a"));
    }

    [Fact]
    public void OperationsCreateParentsFirstAndUseSandbox2Flags()
    {
        var m = new Mounts();
        m.AddFileAt("/etc/hostname", "/x/y/file", writable: true);
        m.AddDirectoryAt("/usr", "/x");
        m.AddTmpfs("/x/tmp", 1 << 20);
        m.AddProc();
        m.AddMinimalDev();
        var ops = m.ToMountOps();

        var dirBind = ops.FindIndex(o => o is { Kind: MountOpKind.Bind, Target: "/x" });
        var fileBind = ops.FindIndex(o => o is { Kind: MountOpKind.Bind, Target: "/x/y/file" });
        var tmpfs = ops.FindIndex(o => o is { Kind: MountOpKind.Tmpfs, Target: "/x/tmp" });
        Assert.True(dirBind >= 0 && dirBind < fileBind && dirBind < tmpfs, string.Join('\n', ops));
        Assert.True(ops.FindIndex(o => o is { Kind: MountOpKind.MakeDirectory, Target: "/x" }) < dirBind);
        Assert.True(ops.FindIndex(o => o is { Kind: MountOpKind.CreateFile, Target: "/x/y/file" }) < fileBind);
        Assert.True(ops.FindIndex(o => o is { Kind: MountOpKind.MakeDirectory, Target: "/x/y" }) < fileBind);

        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoDev, ops[dirBind].Flags);
        Assert.Equal("/usr", ops[dirBind].Source);
        Assert.Equal(MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, ops[fileBind].Flags);
        Assert.Equal("/etc/hostname", ops[fileBind].Source);
        Assert.Equal("size=1048576,mode=1777", ops[tmpfs].Options);
        Assert.Contains(ops, o => o is { Kind: MountOpKind.Proc, Target: "/proc" });
        Assert.Contains(ops, o => o is { Kind: MountOpKind.Symlink, Target: "/dev/fd", Source: "/proc/self/fd" });
        // Device binds must keep device nodes usable: never nodev.
        var devNull = ops.Single(o => o is { Kind: MountOpKind.Bind, Target: "/dev/null" });
        Assert.False(devNull.Flags.HasFlag(MountFlags.NoDev));

        // Every target's parent is created (or mounted) before anything is put there.
        var made = new HashSet<string> { "/" };
        string? proc = null;
        foreach (var op in ops)
        {
            if (op.Kind is MountOpKind.MakeDirectory) { made.Add(op.Target); continue; }
            if (op.Kind is MountOpKind.Proc) proc = op.Target;
            if (proc is not null && op.Target.StartsWith(proc + "/", StringComparison.Ordinal)) continue; // the /proc masks: in the procfs

            Assert.True(made.Contains(Mounts.ParentOf(op.Target)!), $"{op} before its parent directory");
            if (op.Kind is MountOpKind.CreateFile or MountOpKind.Symlink) made.Add(op.Target);
        }
    }

    [Fact]
    public void ThePolicyKeepsItsMountsTheSandboxAddsToACopy()
    {
        var policy = new PolicyBuilder().AddFile("/etc/hostname").Build();
        var copy = policy.Namespace.Mounts.Clone();
        copy.AddFile("/etc/passwd");
        Assert.Single(policy.Namespace.Mounts.Entries);
        Assert.Equal(2, copy.Entries.Count);
    }
}
