using System.Text.Json;

namespace Sandbox2.Tests.Cli;

internal static class CliJson
{
    /// <summary>Parses the JSON document in <paramref name="stderr"/> (the tool's own "sandbox2:" lines are skipped).</summary>
    public static JsonElement Parse(string stderr)
    {
        int start = stderr.IndexOf("{\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "no JSON document on stderr:\n" + stderr);
        int end = stderr.LastIndexOf("\n}", StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(stderr[start..(end + 2)]);
        return doc.RootElement.Clone();
    }

    /// <summary>The contract's field names, in order.</summary>
    public static readonly string[] Fields = ["status", "reasonCode", "reason", "exitCode", "signal", "violation", "stackTrace", "oom", "usage", "isolation"];
}

/// <summary>The <c>--result</c> JSON: every contract field, the right types, nulls where absent.</summary>
public class CliResultJsonTests
{
    [Fact]
    public async Task OkResultHasEveryContractField()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--result", "-", "--", "/bin/echo", "hello");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
        JsonElement json = CliJson.Parse(r.Stderr);

        Assert.Equal(CliJson.Fields, json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("OK", json.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.String, json.GetProperty("reason").ValueKind);
        Assert.DoesNotContain('\n', json.GetProperty("reason").GetString()!);
        Assert.Equal(0, json.GetProperty("exitCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("signal").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("violation").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("stackTrace").ValueKind);
        Assert.Equal(JsonValueKind.False, json.GetProperty("oom").ValueKind);

        JsonElement usage = json.GetProperty("usage");
        Assert.Equal(["wallTimeMs", "cpuTimeMs", "maxRssKb", "memoryPeakKb", "processes"], usage.EnumerateObject().Select(p => p.Name));
        Assert.InRange(usage.GetProperty("processes").GetInt32(), 0, 1);
        Assert.Contains(json.GetProperty("isolation").GetProperty("cgroup").GetString(), new[] { "v1", "v2", null });
        double wall = usage.GetProperty("wallTimeMs").GetDouble();
        Assert.InRange(wall, 0.001, 60_000);
        Assert.InRange(usage.GetProperty("cpuTimeMs").GetDouble(), 0, wall + 1000);
        Assert.InRange(usage.GetProperty("maxRssKb").GetInt64(), 1, 10_000_000);
    }

    [Fact]
    public async Task ExitCodeIsInTheJsonAndTheResultCanGoToAFile()
    {
        string file = Path.Combine(Path.GetTempPath(), $"sandbox2-cli-result-{Guid.NewGuid():N}.json");
        try
        {
            CliOutcome r = await CliRunner.RunAsync("run", "--result", file, "--", CliRunner.Testcase("cli_exit"), "7");
            Assert.True(r.ExitCode == 7, r.ToString());
            Assert.Equal("", r.Stderr);
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(file));
            Assert.Equal("OK", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal(7, doc.RootElement.GetProperty("exitCode").GetInt32());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ViolationIsDescribed()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--result", "-", "--", CliRunner.Testcase("cli_syscall-static"), CliRunner.PtraceNumber);
        Assert.True(r.ExitCode == 159, r.ToString());
        JsonElement json = CliJson.Parse(r.Stderr);
        Assert.Equal(CliJson.Fields, json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("VIOLATION", json.GetProperty("status").GetString());
        Assert.Equal("VIOLATION_SYSCALL", json.GetProperty("reasonCode").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("exitCode").ValueKind);

        JsonElement v = json.GetProperty("violation");
        Assert.Equal(["syscall", "number", "arch", "args", "pid", "description"], v.EnumerateObject().Select(p => p.Name));
        Assert.Equal("ptrace", v.GetProperty("syscall").GetString());
        Assert.Equal(101, v.GetProperty("number").GetInt32());
        Assert.Equal("x86-64", v.GetProperty("arch").GetString());
        Assert.Equal(6, v.GetProperty("args").GetArrayLength());
        Assert.All(v.GetProperty("args").EnumerateArray(), a => Assert.Equal(0UL, a.GetUInt64()));
        Assert.Equal(2, v.GetProperty("pid").GetInt32());
        Assert.StartsWith("[X86-64]", v.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("ptrace", v.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("stackTrace").ValueKind); // only with --stack-trace
    }

    [Fact]
    public async Task StackTraceIsCollectedWhenAsked()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--stack-trace", "--result", "-", "--", CliRunner.Testcase("cli_syscall"), CliRunner.PtraceNumber);
        Assert.True(r.ExitCode == 159, r.ToString());
        JsonElement json = CliJson.Parse(r.Stderr);
        string[] frames = json.GetProperty("stackTrace").EnumerateArray().Select(f => f.GetString()!).ToArray();
        Assert.True(frames.Length >= 2, r.ToString());
        Assert.StartsWith("#0 0x", frames[0], StringComparison.Ordinal);
        if (Monitoring.Symbolization.Unsymbolized(frames)) return;
        Assert.Contains(frames, f => f.Contains(" main+0x", StringComparison.Ordinal)); // '+' is written as is, not \u002B
    }

    [Fact]
    public async Task SetupErrorIsReported()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--result", "-", "--", "/definitely/not/here/prog");
        Assert.True(r.ExitCode == 127, r.ToString());
        JsonElement json = CliJson.Parse(r.Stderr);
        Assert.Equal(CliJson.Fields, json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("SETUP_ERROR", json.GetProperty("status").GetString());
        Assert.Equal("PROGRAM_NOT_FOUND", json.GetProperty("reasonCode").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("exitCode").ValueKind);
        Assert.NotEqual("", json.GetProperty("reason").GetString());
    }
}
