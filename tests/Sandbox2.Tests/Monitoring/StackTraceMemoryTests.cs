using Sandbox2.Tests.Elf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Monitoring;

[CollectionDefinition(nameof(StackTraceMemoryTests), DisableParallelization = true)]
public sealed class StackTraceMemoryCollection;

/// <summary>A violation in a sandbox whose program carries a huge symbol table: the executor's memory stays within
/// a stated cap (measured alone: this collection does not run in parallel with others).</summary>
[Collection(nameof(StackTraceMemoryTests))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class StackTraceMemoryTests(ITestOutputHelper output)
{
    /// <summary>The caps this test states: what the executor keeps after the violation (managed heap after a full GC),
    /// and how far its peak RSS rises while handling it.</summary>
    private const long RetainedCap = 16L << 20, PeakRssCap = 64L << 20;

    [Theory]
    [InlineData(2_500_000, false)] // past ElfSymbolTable.MaxSymbols: the table is refused, frames are unnamed
    [InlineData(190_000, true)]    // under the cap: read, cached, named
    public async Task ViolationInAProgramWithManySymbols_StaysUnderTheMemoryCap(int symbols, bool named)
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-mon-huge-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        try
        {
            string program = Path.Combine(dir, "huge");
            CraftedElf.WithManySymbols(NotifyChild.TestcasePath("mon_notifychild-static"), program, symbols);
            output.WriteLine($"{program}: {new FileInfo(program).Length >> 20} MiB, {symbols} function symbols");
            await Monitor.WarmUpStackTraces().WaitAsync(TimeSpan.FromSeconds(60)); // JIT work is not what is measured
            ElfSymbolTable.ClearCache();
            var policy = SandboxMonitorTests.BasePolicy().Build();

            long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            File.WriteAllText("/proc/self/clear_refs", "5"); // reset VmHWM to the current RSS
            long rssBefore = Status("VmRSS");
            await using (var sandbox = new Sandbox(new Executor(program, ["stack", "="]) { Limits = new Limits { WallTime = TimeSpan.FromSeconds(30) } }, policy))
            {
                var result = await sandbox.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Equal(SandboxStatus.Violation, result.Status);
                Assert.NotNull(result.StackTrace);
                foreach (var f in result.StackTrace) output.WriteLine(f);
                Assert.StartsWith("#0 ", result.StackTrace[0], StringComparison.Ordinal);
                if (named && !Symbolization.Unsymbolized(result.StackTrace)) Assert.Contains(result.StackTrace, f => f.Contains(" f0", StringComparison.Ordinal) && f.Contains("(" + program + ")", StringComparison.Ordinal));
                else Assert.Contains(result.StackTrace, f => f.Contains("?? (" + program + "+0x", StringComparison.Ordinal));
            }
            long peak = Status("VmHWM") - rssBefore;
            long retained = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
            output.WriteLine($"peak RSS growth {peak >> 10} KiB (cap {PeakRssCap >> 10}), retained managed {retained >> 10} KiB (cap {RetainedCap >> 10}), cache {ElfSymbolTable.CachedBytes >> 10} KiB");
            Assert.True(peak < PeakRssCap, $"peak RSS grew by {peak >> 20} MiB");
            Assert.True(retained < RetainedCap, $"retained {retained >> 20} MiB");
            Assert.True(ElfSymbolTable.CachedBytes <= ElfSymbolTable.CacheBudgetBytes);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            ElfSymbolTable.ClearCache();
        }
    }

    /// <summary>A field of /proc/self/status in bytes.</summary>
    private static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException(field);
    }
}
