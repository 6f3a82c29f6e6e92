namespace Sandbox2.Tests.Execution;

/// <summary>How the cgroup layout is decided from /proc/self/mountinfo and /proc/self/cgroup (write access probed on
/// the real paths they name).</summary>
public class CgroupLayoutTests
{
    private static string MountLine(string mountPoint, string fstype, string super) =>
        $"30 25 0:26 / {mountPoint} rw,nosuid,nodev,noexec,relatime shared:4 - {fstype} {fstype} {super}\n";

    [Fact]
    public void NothingMountedMeansRlimitsOnly()
    {
        var layout = CgroupLayout.Detect("", "0::/\n");
        Assert.Null(layout.Version);
        Assert.Contains("rlimits only", layout.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnreachableTreeMeansRlimitsOnly()
    {
        // A container's cgroup tree that is not there (or not writable) for us: no cgroup, said why.
        string mountinfo = MountLine("/nonexistent/cgroup", "cgroup2", "rw") + MountLine("/nonexistent/memory", "cgroup", "rw,memory")
            + MountLine("/nonexistent/pids", "cgroup", "rw,pids");
        var layout = CgroupLayout.Detect(mountinfo, "4:memory:/a\n8:pids:/a\n0::/a\n");
        Assert.Null(layout.Version);
        Assert.Contains("not writable", layout.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void AWritableUnifiedTreeWithoutControllersIsV2WithRlimitsForMemoryAndProcesses()
    {
        string root = Directory.CreateTempSubdirectory("sandbox2-cglayout-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "job"));
            var layout = CgroupLayout.Detect(MountLine(root, "cgroup2", "rw,nsdelegate"), "0::/job\n");
            Assert.Equal(CgroupVersion.V2, layout.Version);
            Assert.Equal(Path.Combine(root, "job"), layout.V2Parent);
            Assert.False(layout.V2Controllers);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void V1ControllersAreFoundPerHierarchyBelowTheOwnCgroup()
    {
        string root = Directory.CreateTempSubdirectory("sandbox2-cglayout-").FullName;
        try
        {
            foreach (var c in new[] { "memory", "pids", "cpuacct" }) Directory.CreateDirectory(Path.Combine(root, c, "exec"));
            string mountinfo = MountLine(Path.Combine(root, "memory"), "cgroup", "rw,memory") + MountLine(Path.Combine(root, "pids"), "cgroup", "rw,pids")
                + MountLine(Path.Combine(root, "cpuacct"), "cgroup", "rw,cpu,cpuacct");
            var layout = CgroupLayout.Detect(mountinfo, "4:memory:/exec\n8:pids:/exec\n2:cpu,cpuacct:/exec\n0::/\n");
            Assert.Equal(CgroupVersion.V1, layout.Version);
            Assert.Equal(Path.Combine(root, "memory", "exec"), layout.V1Parents["memory"]);
            Assert.Equal(Path.Combine(root, "cpuacct", "exec"), layout.V1Parents["cpuacct"]);
            Assert.False(layout.V1Parents.ContainsKey("freezer"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ThisHostHasALayoutWhenRoot()
    {
        if (Environment.UserName != "root") return;
        Assert.NotNull(CgroupLayout.Current.Version);
    }
}
