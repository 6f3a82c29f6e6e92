using System.Diagnostics;

namespace Sandbox2.Tests.Execution;

/// <summary>AddLibrariesForBinary: ELF headers read, libraries resolved as ld.so does, recursively.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ElfDependenciesTests
{
    [Fact]
    public void BinLsNeedsItsInterpreterAtTheRequestedPathAndLibc()
    {
        var libs = ElfDependencies.ResolveLibraries("/bin/ls");
        // The interpreter is mounted where PT_INTERP asks for it (/lib64 is a symlink on merged-/usr Debian).
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", libs[0]);
        Assert.Contains(libs, l => l.EndsWith("/libc.so.6", StringComparison.Ordinal));
        Assert.Contains(libs, l => l.EndsWith("/libselinux.so.1", StringComparison.Ordinal));
        // libselinux needs libpcre2-8: found recursively.
        Assert.Contains(libs, l => l.Contains("/libpcre2-8.so", StringComparison.Ordinal));
        Assert.Equal(libs.Count, libs.Distinct().Count());
        Assert.All(libs, l => Assert.True(File.Exists(l), l));
    }

    [Fact]
    public void StaticProgramsNeedNothing()
    {
        Assert.Empty(ElfDependencies.ResolveLibraries(Sandboxes.Testcase("hello-static")));
        var elf = ElfDependencies.Read(Sandboxes.Testcase("hello-static"));
        Assert.Null(elf.Interpreter);
        Assert.Empty(elf.Needed);
    }

    [Fact]
    public void NotAnElfFileIsAPolicyError()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "#!/bin/sh\n");
            var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary(file));
            Assert.Contains("not an ELF file", e.Message, StringComparison.Ordinal);
            File.WriteAllBytes(file, [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, .. new byte[60]]);
            Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary(file));
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Contains("cannot read", Assert.Throws<PolicyException>(() => new PolicyBuilder().AddLibrariesForBinary("/no/such/program")).Message, StringComparison.Ordinal);
    }

    /// <summary>A program with a private library found through DT_RUNPATH $ORIGIN/../lib: resolved and run in a sandbox.</summary>
    [Fact]
    public async Task RunpathWithOriginIsResolvedAndRunsInASandbox()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-ex-elf-").FullName;
        // The sandbox's binds are made by its user namespace, i.e. by an unprivileged host uid: it must reach the files.
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "lib"));
            Directory.CreateDirectory(Path.Combine(dir, "bin"));
            await File.WriteAllTextAsync(Path.Combine(dir, "lib.c"), "int answer(void) { return 42; }\n");
            await File.WriteAllTextAsync(Path.Combine(dir, "main.c"), "#include <stdio.h>\nint answer(void);\nint main(void) { printf(\"answer %d\\n\", answer()); return 0; }\n");
            await Gcc(dir, "-shared", "-fPIC", "-o", "lib/libexanswer.so", "lib.c");
            await Gcc(dir, "-o", "bin/prog", "main.c", "-Llib", "-lexanswer", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib");
            string prog = Path.Combine(dir, "bin", "prog");

            var elf = ElfDependencies.Read(prog);
            Assert.Equal(["$ORIGIN/../lib"], elf.RunPath);
            // A private library directory is outside the trusted ones: refused, naming the entry, unless trusted explicitly.
            var e = Assert.Throws<PolicyException>(() => ElfDependencies.ResolveLibraries(prog));
            Assert.Contains("DT_RUNPATH entry '$ORIGIN/../lib'", e.Message, StringComparison.Ordinal);
            var libs = ElfDependencies.ResolveLibraries(prog, trustedDirectories: [Path.Combine(dir, "lib")]);
            Assert.Contains(Path.Combine(dir, "lib", "libexanswer.so"), libs);

            // A directory the user binds is trusted: the library comes through that bind.
            var policy = BuiltinPolicies.CreateDefault().AddDirectory(Path.Combine(dir, "lib")).AddLibrariesForBinary(prog)
                .AddProc().AddMinimalDev().AddTmpfs("/tmp", 16 << 20).Build();
            var o = await Sandboxes.Async(new Executor(prog, []), policy);
            Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
            Assert.Equal("answer 42\n", o.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task Gcc(string dir, params string[] args)
    {
        var start = new ProcessStartInfo("gcc") { WorkingDirectory = dir, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, "gcc " + string.Join(' ', args) + ": " + err);
    }
}
