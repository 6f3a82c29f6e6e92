using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Security;

/// <summary>The program's ELF headers are untrusted input (issue 9, item 1): crafted binaries that try to choose host
/// files for the sandbox are refused, through the library and through the CLI, and nothing blocks.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ElfDependenciesHostileTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir;

    public ElfDependenciesHostileTests()
    {
        _dir = Directory.CreateTempSubdirectory("sandbox2-elf-hostile-").FullName;
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101); // the sandbox user (65534 when root) must reach it
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private async Task<string> Hello()
    {
        await File.WriteAllTextAsync(P("main.c"), "#include <stdio.h>\nint main(void) { puts(\"ran\"); return 0; }\n");
        await Gcc("-o", "hello", "main.c");
        return P("hello");
    }

    /// <summary>A program linked against <c>DIR/libx.so</c> by path (no soname): its DT_NEEDED is that absolute path.</summary>
    private async Task<string> NeedsByPath()
    {
        await File.WriteAllTextAsync(P("x.c"), "int x(void) { return 7; }\n");
        await File.WriteAllTextAsync(P("usex.c"), "#include <stdio.h>\nint x(void);\nint main(void) { printf(\"x=%d\\n\", x()); return 0; }\n");
        await Gcc("-shared", "-fPIC", "-o", "libx.so", "x.c");
        await Gcc("-o", "usex", "usex.c", P("libx.so"));
        Assert.Contains(P("libx.so"), ElfDependencies.Read(P("usex")).Needed);
        return P("usex");
    }

    [Fact]
    public async Task TwoPtInterp_TheSecondNamingAHostFile_IsRefused()
    {
        string prog = await Hello();
        // Turn PT_GNU_STACK (after the real PT_INTERP) into a second PT_INTERP naming /etc/hostname, appended to the file.
        byte[] f = await File.ReadAllBytesAsync(prog);
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(32));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(56));
        byte[] target = Encoding.ASCII.GetBytes("/etc/hostname\0");
        int at = -1;
        for (int i = 0; i < phnum; i++)
            if (BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan((int)phoff + i * 56)) == 0x6474e551) at = (int)phoff + i * 56;
        Assert.True(at > 0, "no PT_GNU_STACK");
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(at), 3);                     // PT_INTERP
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(at + 8), (ulong)f.Length);    // p_offset
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(at + 32), (ulong)target.Length);
        string crafted = P("two-interp");
        await File.WriteAllBytesAsync(crafted, [.. f, .. target]);
        File.SetUnixFileMode(crafted, (UnixFileMode)0b111_101_101);

        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary(crafted));
        Assert.Contains("2 PT_INTERP", e.Message, StringComparison.Ordinal);
        Assert.Contains("/etc/hostname", e.Message, StringComparison.Ordinal);

        var cli = await CliRunner.RunAsync("run", "--", crafted);
        Assert.True(cli.ExitCode == 125, cli.ToString());
        Assert.Contains(cli.ToolLines, l => l.Contains("PT_INTERP", StringComparison.Ordinal));
        Assert.DoesNotContain("ran", cli.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DtNeededNamingAFifo_IsRefusedWithoutBlocking()
    {
        string prog = await NeedsByPath();
        File.Delete(P("libx.so"));
        using (var mk = Process.Start("mkfifo", ["-m", "666", P("libx.so")])!) await mk.WaitForExitAsync();
        // Even when its directory is trusted: a FIFO is never opened (open() on it would block until a writer came).
        var e = await Task.Run(() => Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary(prog, trustedDirectories: [_dir]))).WaitAsync(Timeout);
        Assert.Contains(P("libx.so"), e.Message, StringComparison.Ordinal);
        Assert.Contains("not a regular file (a FIFO)", e.Message, StringComparison.Ordinal);

        var cli = await CliRunner.RunAsync("run", "--", prog);
        Assert.True(cli.ExitCode == 125, cli.ToString());
        Assert.Contains(cli.ToolLines, l => l.Contains("a FIFO", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DtNeededNamingAFileOutsideTheLibraryDirectories_IsRefusedUnlessTrusted()
    {
        string prog = await NeedsByPath();
        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary(prog));
        Assert.Contains($"DT_NEEDED '{P("libx.so")}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("outside the system library directories", e.Message, StringComparison.Ordinal);
        var cli = await CliRunner.RunAsync("run", "--", prog);
        Assert.True(cli.ExitCode == 125 && cli.Stdout == "", cli.ToString());
        Assert.Contains(cli.ToolLines, l => l.Contains("DT_NEEDED", StringComparison.Ordinal));

        // Opt-in: the directory trusted explicitly (library) or bound by the user (CLI).
        Assert.Contains(P("libx.so"), ElfDependencies.ResolveLibraries(prog, trustedDirectories: [_dir]));
        var bound = await CliRunner.RunAsync("run", "--ro-bind", _dir, "--", prog);
        Assert.True(bound.ExitCode == 0 && bound.Stdout == "x=7\n", bound.ToString());
    }

    [Fact]
    public async Task RpathToAPrivateDirectory_IsRefusedUnlessBound()
    {
        Directory.CreateDirectory(P("private"));
        File.SetUnixFileMode(P("private"), (UnixFileMode)0b111_101_101);
        await File.WriteAllTextAsync(P("y.c"), "int y(void) { return 9; }\n");
        await File.WriteAllTextAsync(P("usey.c"), "#include <stdio.h>\nint y(void);\nint main(void) { printf(\"y=%d\\n\", y()); return 0; }\n");
        await Gcc("-shared", "-fPIC", "-Wl,-soname,liby.so", "-o", "private/liby.so", "y.c");
        await Gcc("-o", "usey", "usey.c", "-Lprivate", "-ly", "-Wl,--disable-new-dtags,-rpath," + P("private"));
        string prog = P("usey");
        Assert.Equal([P("private")], ElfDependencies.Read(prog).RPath);

        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary(prog));
        Assert.Contains($"DT_RPATH entry '{P("private")}'", e.Message, StringComparison.Ordinal);
        var cli = await CliRunner.RunAsync("run", "--", prog);
        Assert.True(cli.ExitCode == 125 && cli.Stdout == "", cli.ToString());
        Assert.Contains(cli.ToolLines, l => l.Contains("DT_RPATH", StringComparison.Ordinal));

        var bound = await CliRunner.RunAsync("run", "--ro-bind", P("private"), "--", prog);
        Assert.True(bound.ExitCode == 0 && bound.Stdout == "y=9\n", bound.ToString());
    }

    [Fact]
    public async Task ARegularProgramStillResolvesAndRuns()
    {
        string prog = await Hello();
        var libs = ElfDependencies.ResolveLibraries(prog);
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", libs[0]);
        var cli = await CliRunner.RunAsync("run", "--", prog);
        Assert.True(cli.ExitCode == 0 && cli.Stdout == "ran\n", cli.ToString());
    }

    private async Task Gcc(params string[] args)
    {
        var start = new ProcessStartInfo("gcc") { WorkingDirectory = _dir, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, "gcc " + string.Join(' ', args) + ": " + err);
    }
}
