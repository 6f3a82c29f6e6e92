using System.Text.Json;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Security;

/// <summary>Issue 9, item 2: <c>--result FILE</c> never writes through a link a sandbox planted. A first sandbox with
/// <c>--bind out:/out</c> plants <c>out/result.json -&gt; victim</c> (a file the test owns; root's when the tests run
/// as root); the next run with <c>--result out/result.json</c> must refuse and leave the victim as it was.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ResultFileSymlinkTests : IDisposable
{
    private const string Secret = "the victim's content\n";
    private readonly string _dir, _out, _victim;

    public ResultFileSymlinkTests()
    {
        _dir = Directory.CreateTempSubdirectory("sandbox2-result-").FullName;
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        _out = Path.Combine(_dir, "out");
        Directory.CreateDirectory(_out);
        File.SetUnixFileMode(_out, (UnixFileMode)0b111_111_111); // the sandbox user (65534 when root) writes here
        _victim = Path.Combine(_dir, "victim");
        File.WriteAllText(_victim, Secret);
        File.SetUnixFileMode(_victim, (UnixFileMode)0b110_100_100);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task Sandbox(params string[] command)
    {
        var run = await CliRunner.RunAsync(["run", "--bind", _out + ":/out", "--", .. command]);
        Assert.True(run.ExitCode == 0, run.ToString());
    }

    [Fact]
    public async Task APlantedResultLink_IsRefused_AndTheVictimIsUntouched()
    {
        await Sandbox("/bin/ln", "-s", _victim, "/out/result.json");
        string planted = Path.Combine(_out, "result.json");
        Assert.Equal(_victim, new FileInfo(planted).LinkTarget);

        var run = await CliRunner.RunAsync("run", "--result", planted, "--", "/bin/true");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("is a symbolic link", StringComparison.Ordinal) && l.Contains(_victim, StringComparison.Ordinal));
        Assert.Equal(Secret, await File.ReadAllTextAsync(_victim));
        Assert.Equal(_victim, new FileInfo(planted).LinkTarget); // not replaced either: refused before the run
        Assert.Equal(["result.json"], Directory.GetFileSystemEntries(_out).Select(Path.GetFileName)); // no temporary file left
    }

    [Fact]
    public async Task APlantedResultLink_IsRefused_ForAnUnprivilegedExecutorToo()
    {
        // Unprivileged, the victim is a file of the caller's own (think ~/.ssh/authorized_keys): the tool could write it.
        if (!AsNobody.Available) return;
        Assert.Equal(0, Interop.Chown(_victim, 65534, 65534));
        var plant = await AsNobody.RunAsync("run", "--bind", _out + ":/out", "--", "/bin/ln", "-s", _victim, "/out/result.json");
        Assert.True(plant.ExitCode == 0, plant.ToString());
        var run = await AsNobody.RunAsync("run", "--result", Path.Combine(_out, "result.json"), "--", "/bin/true");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("is a symbolic link", StringComparison.Ordinal));
        Assert.Equal(Secret, await File.ReadAllTextAsync(_victim));
    }

    [Fact]
    public async Task APlantedLinkInTheResultsDirectory_IsRefused()
    {
        string victimDir = Path.Combine(_dir, "victimdir");
        Directory.CreateDirectory(victimDir);
        await Sandbox("/bin/ln", "-s", victimDir, "/out/sub");
        var run = await CliRunner.RunAsync("run", "--result", Path.Combine(_out, "sub", "r.json"), "--", "/bin/true");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("/out/sub is a symbolic link owned by uid", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(victimDir));
    }

    [Fact]
    public async Task AResultFileOwnedBySomeoneElse_IsRefused()
    {
        // As root, what a sandbox leaves is uid 65534's: a hard link to a victim, or its own file, is not rewritten.
        if (Interop.GetEUid() != 0) return; // unprivileged, the sandbox's files are the caller's own
        await Sandbox("/bin/sh", "-c", "echo planted > /out/result.json");
        var run = await CliRunner.RunAsync("run", "--result", Path.Combine(_out, "result.json"), "--", "/bin/true");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("is owned by uid 65534, not by you", StringComparison.Ordinal));
        Assert.Equal("planted\n", await File.ReadAllTextAsync(Path.Combine(_out, "result.json")));
    }

    [Fact]
    public async Task AFifoAsResultFile_IsRefusedWithoutBlocking()
    {
        // What a sandbox allowed mknod could leave (the default policy does not allow it; made here from outside).
        using (var mk = System.Diagnostics.Process.Start("mkfifo", ["-m", "666", Path.Combine(_out, "fifo.json")])!) await mk.WaitForExitAsync();
        var run = await CliRunner.RunAsync("run", "--result", Path.Combine(_out, "fifo.json"), "--", "/bin/true");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("not a regular file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnOrdinaryResultFile_IsWrittenAndReplaced()
    {
        string file = Path.Combine(_out, "ok.json");
        for (int i = 0; i < 2; i++) // created, then replaced (the caller's own regular file)
        {
            var run = await CliRunner.RunAsync("run", "--result", file, "--", "/bin/true");
            Assert.True(run.ExitCode == 0, run.ToString());
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(file));
            Assert.Equal("OK", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal(Interop.GetEUid(), OwnerOf(file));
        }
        Assert.Equal(["ok.json"], Directory.GetFileSystemEntries(_out).Select(Path.GetFileName)); // no temporary file left
    }

    private static uint OwnerOf(string path)
    {
        using var h = File.OpenHandle(path);
        Assert.Equal(0, Interop.FStat(h, out var st));
        return st.Uid;
    }
}
