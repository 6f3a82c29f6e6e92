namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>Where the forkserver comes from: explicit path, SANDBOX2_FORKSERVER, files next to the app, the embedded copy.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ForkServerLocatorTests
{
    private static string BuiltForkServer => Path.Combine(AppContext.BaseDirectory, GlobalForkServer.ProgramName);

    /// <summary>A regular file without execute permission.</summary>
    private static readonly string NotExecutable = CreateNotExecutable();

    private static string CreateNotExecutable()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sandbox2-locator-{Environment.ProcessId}");
        File.WriteAllText(path, "not a program");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    [Fact]
    public void ExplicitPathWinsOverEverything()
    {
        var found = ForkServerLocator.Locate(BuiltForkServer, "/nonexistent/env", ["/nonexistent/a"], embedded: true);
        Assert.Equal(BuiltForkServer, found.Path);
    }

    [Fact]
    public void ExplicitPathThatDoesNotExistIsAnErrorNotAFallback()
    {
        var found = ForkServerLocator.Locate("/nonexistent/fs", null, [BuiltForkServer], embedded: true);
        Assert.Null(found.Path);
        Assert.False(found.Embedded);
        Assert.Contains("GlobalForkServer.ProgramPath (/nonexistent/fs) does not exist", found.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvironmentVariableIsUsedAndCheckedAndMustBeAbsolute()
    {
        Assert.Equal(BuiltForkServer, ForkServerLocator.Locate(null, BuiltForkServer, [], embedded: false).Path);
        Assert.Contains("SANDBOX2_FORKSERVER (/etc) is a directory", ForkServerLocator.Locate(null, "/etc", [], true).Error, StringComparison.Ordinal);
        Assert.Contains("is not executable", ForkServerLocator.Locate(null, NotExecutable, [], true).Error, StringComparison.Ordinal);
        Assert.Contains("not an absolute path", ForkServerLocator.Locate(null, "sandbox2-forkserver", [], true).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void FirstExecutableCandidateIsUsedThenTheEmbeddedCopy()
    {
        Assert.Equal(BuiltForkServer, ForkServerLocator.Locate(null, null, ["/nonexistent/a", NotExecutable, BuiltForkServer], false).Path);
        var embedded = ForkServerLocator.Locate(null, "", ["/nonexistent/a"], embedded: true);
        Assert.True(embedded.Embedded);
        Assert.Null(embedded.Error);
    }

    [Fact]
    public void NotFoundListsEveryPlaceLookedAt()
    {
        var found = ForkServerLocator.Locate(null, null, ["/nonexistent/a/sandbox2-forkserver", NotExecutable], embedded: false);
        Assert.Null(found.Path);
        Assert.Contains("/nonexistent/a/sandbox2-forkserver (does not exist)", found.Error, StringComparison.Ordinal);
        Assert.Contains($"{NotExecutable} (is not executable", found.Error, StringComparison.Ordinal);
        Assert.Contains("embedded in Sandbox2.dll", found.Error, StringComparison.Ordinal);
        Assert.Contains("SANDBOX2_FORKSERVER", found.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultCandidatesStartWithTheAppDirectoryAndIncludeTheRuntimesAsset()
    {
        var candidates = ForkServerLocator.Candidates().ToList();
        Assert.Equal(BuiltForkServer, candidates[0]);
        Assert.Contains(candidates, c => c.EndsWith("/runtimes/linux-x64/native/sandbox2-forkserver", StringComparison.Ordinal));
    }

    [Fact]
    public void TheAssemblyEmbedsTheForkServer()
    {
        Assert.True(ForkServerLocator.Locate(null, null, [], embedded: typeof(Sandbox).Assembly.GetManifestResourceInfo(ForkServerLocator.ResourceName) is not null).Embedded);
        using var memfd = ForkServerLocator.OpenEmbedded();
        // Same bytes as the file built from native/, and sealed against writes.
        byte[] onDisk = File.ReadAllBytes(BuiltForkServer);
        byte[] embedded = File.ReadAllBytes($"/proc/self/fd/{memfd.Fd}");
        Assert.Equal(onDisk, embedded);
        var refused = Record.Exception(() => File.WriteAllBytes($"/proc/self/fd/{memfd.Fd}", [1]));
        Assert.True(refused is IOException or UnauthorizedAccessException, $"writing the sealed memfd: {refused}");
    }

    [Fact]
    public async Task TheEmbeddedCopyStartsSandboxes()
    {
        using var server = ForkServer.Start(location: new ForkServerLocator.Location(null, true, null));
        Assert.True(server.IsAlive);
        var (read, write) = FsPlans.Pipe();
        var plan = FsPlans.Probe(write, ["getpid"]);
        using var sandbox = await server.SpawnAsync(plan);
        write.Dispose();
        plan.ProgramFd.Dispose();
        var report = await sandbox.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, report.ExitCode);
        Assert.Equal("pid 2\n", await FsPlans.ReadAll(read));
        read.Dispose();
    }
}
