using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>namespace_test.cc</c> (with <c>testcases/namespace.cc</c> rewritten as s2_namespace.c,
/// which prints its entries instead of sending them over Comms). See docs/sandbox2-test-map.md.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NamespaceTests
{
    private static readonly string Path_ = Port.Testcase("namespace");

    private static Sandbox2.Policy Permissive() => Port.Permissive(Path_).Build();

    [Fact]
    public async Task NamespaceTest_FileNamespaceWorks()
    {
        var policy = Port.Permissive(Path_).AddFileAt(Path_, "/binary_path").Build();
        Assert.Equal(["/binary_path"], await Port.Entries(Path_, policy, "0", "/binary_path", "/etc/passwd"));
    }

    [Fact]
    public async Task NamespaceTest_ReadOnlyIsRespected()
    {
        string name = Path.Combine(Path.GetTempPath(), $"sandbox2-port-{Guid.NewGuid():N}");
        File.WriteAllText(name, "x");
        File.SetUnixFileMode(name, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        try
        {
            Assert.Equal(["/temp_file"], await Port.Entries(Path_, Port.Permissive(Path_).AddFileAt(name, "/temp_file").Build(), "0", "/temp_file"));
            Assert.Empty(await Port.Entries(Path_, Port.Permissive(Path_).AddFileAt(name, "/temp_file").Build(), "1", "/temp_file"));
        }
        finally { File.Delete(name); }
    }

    [Fact]
    public async Task NamespaceTest_UserNamespaceWorks()
    {
        Assert.Equal(["2"], await Port.Entries(Path_, Permissive(), "2"));
        string[] outside = await Port.Entries(Path_, Port.Permissive(Path_).DisableNamespaces().Build(), "2");
        Assert.Single(outside);
        Assert.NotEqual("2", outside[0]);
    }

    [Fact]
    public async Task NamespaceTest_UserNamespaceIDMapWritten()
    {
        Assert.Equal(["1000", "1000"], await Port.Entries(Path_, Permissive(), "3"));
        // Without namespaces: the ids the sandbox runs as outside (the executor's; as root, one leased from the host id range).
        string[] ids = await Port.Entries(Path_, Port.Permissive(Path_).DisableNamespaces().Build(), "3");
        Assert.Equal(2, ids.Length);
        uint uid = uint.Parse(ids[0], System.Globalization.CultureInfo.InvariantCulture);
        uint gid = uint.Parse(ids[1], System.Globalization.CultureInfo.InvariantCulture);
        if (Interop.GetEUid() == 0)
        {
            var (first, last) = HostIds.Range();
            Assert.InRange(uid, first, last);
            Assert.InRange(gid, first, last);
        }
        else
        {
            Assert.Equal(Interop.GetEUid(), uid);
        }
    }

    [Fact]
    public async Task NamespaceTest_RootReadOnly()
    {
        var policy = Port.Permissive(Path_).AddTmpfs("/tmp", 4UL << 20).Build();
        Assert.Equal(["/tmp/testfile"], await Port.Entries(Path_, policy, "4", "/tmp/testfile", "/testfile"));
    }

    [Fact]
    public async Task NamespaceTest_RootWritable()
    {
        var policy = Port.Permissive(Path_).SetRootWritable().Build();
        Assert.True(policy.Namespace.RootWritable);
        Assert.Equal(["/testfile"], await Port.Entries(Path_, policy, "4", "/testfile"));
    }

    [Fact]
    public async Task NamespaceTest_HostnameNone()
    {
        string[] host = await Port.Entries(Path_, Port.Permissive(Path_).DisableNamespaces().Build(), "7");
        Assert.Equal([Environment.MachineName], host);
        Assert.NotEqual("sandbox2", host[0]);
    }

    [Fact]
    public async Task NamespaceTest_HostnameDefault() =>
        Assert.Equal(["sandbox2"], await Port.Entries(Path_, Permissive(), "7"));

    [Fact]
    public async Task NamespaceTest_HostnameConfigured() =>
        Assert.Equal(["configured"], await Port.Entries(Path_, Port.Permissive(Path_).SetHostname("configured").Build(), "7"));

    [Fact]
    public async Task NamespaceTest_TestInterfacesNoNetwork() =>
        Assert.Equal(["lo"], await Port.Entries(Path_, Permissive(), "5"));

    [Fact]
    public async Task NamespaceTest_TestInterfacesWithNetwork()
    {
        string[] names = await Port.Entries(Path_, Port.Permissive(Path_).SetNetwork(NetworkMode.Host).Build(), "5");
        Assert.Contains("lo", names);
        Assert.True(names.Length > 1, string.Join(",", names));
    }

    [Fact]
    public async Task NamespaceTest_TestNetNsModeForkServerShared()
    {
        string[] individual = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().Build(), "8");
        Assert.Single(individual);
        if (!Security.AsCaller.IsRoot)
        {
            // Unprivileged, the forkserver cannot make the shared namespace: a setup error that says what it needs.
            var refused = await Port.Run(Path_, Port.Permissive(Path_).AddProc().UseForkServerSharedNetNs().Build(), "8");
            Assert.True(refused.Result.Status == SandboxStatus.SetupError && refused.Result.ReasonCode == ReasonCode.FailedNamespaces, refused.ToString());
            Assert.Contains("needs a forkserver with CAP_SYS_ADMIN", refused.Result.Reason, StringComparison.Ordinal);
            return;
        }
        string[] one = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().UseForkServerSharedNetNs().Build(), "8");
        string[] two = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().UseForkServerSharedNetNs().Build(), "8");
        Assert.Single(one);
        Assert.StartsWith("net:[", one[0], StringComparison.Ordinal);
        Assert.Equal(one, two);
        Assert.NotEqual(individual, one);
        // The shared one is not the host's either, and it is empty: only lo, down.
        Assert.NotEqual(new FileInfo("/proc/self/ns/net").LinkTarget, one[0]);
        Assert.Equal(["lo"], await Port.Entries(Path_, Port.Permissive(Path_).UseForkServerSharedNetNs().Build(), "5"));
    }

    [Fact]
    public async Task NamespaceTest_TestSharedIpcNs()
    {
        string[] a = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().Build(), "9");
        string[] b = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().Build(), "9");
        Assert.Single(a);
        Assert.Single(b);
        // Each has its own (not the executor's). Sandbox a has ended when b starts, so the kernel may hand b the inode
        // number a's namespace had: the two are not compared with each other.
        string own = new FileInfo("/proc/self/ns/ipc").LinkTarget!;
        Assert.NotEqual(own, a[0]);
        Assert.NotEqual(own, b[0]);
        string[] shared1 = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().UseSharedIpcNs().Build(), "9");
        string[] shared2 = await Port.Entries(Path_, Port.Permissive(Path_).AddProc().UseSharedIpcNs().Build(), "9");
        Assert.Equal(shared1, shared2);
        Assert.NotEqual(a, shared1);
        Assert.Equal(new FileInfo("/proc/self/ns/ipc").LinkTarget, shared1[0]); // the executor's own
    }

    [Fact]
    public void NamespaceTest_TestIncompatibleNetNsModes()
    {
        var e = Assert.Throws<PolicyException>(() => Port.Permissive(Path_).SetNetwork(NetworkMode.Host).UseForkServerSharedNetNs().Build());
        Assert.Contains("UseForkServerSharedNetNs", e.Message, StringComparison.Ordinal);
        Assert.Throws<PolicyException>(() => Port.Permissive(Path_).UseForkServerSharedNetNs().SetNetwork(NetworkMode.Host).Build());
    }

    [Fact]
    public async Task NamespaceTest_TestFiles()
    {
        string[] files = await Port.Entries(Path_, Permissive(), "6", "/");
        Assert.NotEmpty(files);
        foreach (var f in files)
        {
            bool library = f.Contains(".so", StringComparison.Ordinal)
                && (f.StartsWith("/lib/", StringComparison.Ordinal) || f.StartsWith("/usr/lib/", StringComparison.Ordinal)
                    || f.StartsWith("/lib64/", StringComparison.Ordinal) || f.StartsWith("/usr/lib64/", StringComparison.Ordinal));
            Assert.True(library || f is "/etc/ld.so.cache" || f.StartsWith("/proc", StringComparison.Ordinal)
                || f.StartsWith("/sys", StringComparison.Ordinal) || f.StartsWith("/dev", StringComparison.Ordinal), $"unexpected file in the root: {f}");
        }
        // The program ran from its descriptor: it is not in the root, yet /proc/self/exe still opens it.
        Assert.DoesNotContain(Path_, files);
        Assert.Equal(["/proc/self/exe"], await Port.Entries(Path_, Port.Permissive(Path_).AddProc().Build(), "0", "/proc/self/exe", Path_));
        // Mounted by the user, it is there.
        Assert.Equal([Path_], await Port.Entries(Path_, Port.Permissive(Path_).AddFile(Path_).Build(), "0", Path_));
    }
}
