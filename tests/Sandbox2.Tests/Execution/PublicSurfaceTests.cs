namespace Sandbox2.Tests.Execution;

/// <summary>The public surface as a .NET developer meets it: output capture like Process, results constructible in
/// tests, .NET names where Sandbox2's clash (docs/NAMING.md).</summary>
public class PublicSurfaceTests
{
    [Fact]
    public async Task StandardOutputAndErrorCanBeReadAsStreams()
    {
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary("/bin/ls").Build();
        var executor = new Executor("/bin/ls", ["-d", "/", "/definitely-not-here"]);
        await using var sandbox = new Sandbox(executor, policy) { RedirectStandardOutput = true, RedirectStandardError = true };
        var run = sandbox.RunAsync();
        using var output = new StreamReader(sandbox.StandardOutput);
        using var error = new StreamReader(sandbox.StandardError);
        var stdout = output.ReadToEndAsync();
        var stderr = error.ReadToEndAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(result.Status == SandboxStatus.Ok, result.ToString());
        Assert.Equal(2, result.ExitCode); // ls: one operand missing
        Assert.Equal("/\n", await stdout.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("/definitely-not-here", await stderr.WaitAsync(TimeSpan.FromSeconds(30)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StandardOutputCanBeReadAsAPipeReader()
    {
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary("/usr/bin/seq").Build();
        var executor = new Executor("/usr/bin/seq", ["100000"]); // ~580 KiB: more than a pipe holds, so it is read while it runs
        await using var sandbox = new Sandbox(executor, policy) { RedirectStandardOutput = true };
        var run = sandbox.RunAsync();
        System.IO.Pipelines.PipeReader reader = sandbox.StandardOutputReader;
        Assert.Same(reader, sandbox.StandardOutputReader);
        long bytes = 0, lines = 0;
        while (true)
        {
            var read = await reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            foreach (var segment in read.Buffer)
            {
                bytes += segment.Length;
                lines += segment.Span.Count((byte)'\n');
            }
            reader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted) break;
        }
        await reader.CompleteAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Equal(100_000, lines);
        Assert.Equal(Enumerable.Range(1, 100_000).Sum(i => (long)i.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + 1), bytes);
    }

    [Fact]
    public async Task StreamsEndEvenWhenTheSandboxNeverStarts()
    {
        var policy = BuiltinPolicies.CreateDefault().Build();
        var executor = new Executor("/definitely/not/a/program");
        await using var sandbox = new Sandbox(executor, policy) { RedirectStandardOutput = true };
        var result = await sandbox.RunAsync();
        Assert.Equal(SandboxStatus.SetupError, result.Status);
        using var output = new StreamReader(sandbox.StandardOutput);
        Assert.Equal("", await output.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task NotRedirectedStreamsAndConflictingSettingsAreProgrammerErrors()
    {
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary("/bin/true").Build();
        await using var plain = new Sandbox(new Executor("/bin/true"), policy);
        Assert.Throws<InvalidOperationException>(() => plain.StandardOutput);
        Assert.Throws<InvalidOperationException>(() => plain.StandardError);

        var executor = new Executor("/bin/true") { Stdout = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write) };
        await using var both = new Sandbox(executor, policy) { RedirectStandardOutput = true };
        await Assert.ThrowsAsync<InvalidOperationException>(() => both.RunAsync());
    }

    [Fact]
    public void ResultsAreConstructibleInUserTests()
    {
        var ok = new SandboxResult(SandboxStatus.Ok, "exited") { ExitCode = 0 };
        Assert.Equal(0, ok.ExitCode);
        var failed = new SandboxResult(SandboxStatus.SetupError, "no such program", ReasonCode.ProgramNotFound);
        Assert.Equal(ReasonCode.ProgramNotFound, failed.ReasonCode);
        Assert.Throws<ArgumentNullException>(() => new SandboxResult(SandboxStatus.Ok, null!));
    }

    [Fact]
    public void SharedBufferDoesNotClashWithSystemBuffer()
    {
        // Under implicit usings (System) with 'using Sandbox2;', System.Buffer stays unambiguous.
        var bytes = new byte[4];
        Buffer.BlockCopy(new byte[] { 1, 2, 3, 4 }, 0, bytes, 0, 4);
        using var shared = SharedBuffer.CreateWithSize(4096);
        Assert.Equal(4096, shared.Size);
        Assert.Equal(4, bytes[3]);
    }
}
