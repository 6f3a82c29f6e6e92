using System.Text.RegularExpressions;

namespace Sandbox2.Tests.Policy;

/// <summary>The named syscall groups (<see cref="SyscallGroups"/>) and their one document, docs/POLICY-GROUPS.md.</summary>
public partial class SyscallGroupsTests
{
    private static readonly string[] IssueGroups =
        ["@basic-io", "@file-system", "@io-event", "@ipc", "@memlock", "@network-io", "@process", "@signal", "@sync", "@timer", "@system-service"];

    [Fact]
    public void TheGroupsTheIssueNamesExistAndHoldWhatTheirNameSays()
    {
        foreach (string g in IssueGroups)
        {
            Assert.True(SyscallGroups.TryGet(g, out var names), g);
            Assert.NotEmpty(names);
        }
        Assert.True(SyscallGroups.TryGet("@basic-io", out var io));
        Assert.Contains("read", io);
        Assert.Contains("write", io);
        Assert.DoesNotContain("openat", io);
        Assert.True(SyscallGroups.TryGet("@network-io", out var net));
        Assert.Contains("socket", net);
        Assert.Contains("connect", net);
        Assert.True(SyscallGroups.TryGet("@process", out var process));
        Assert.Contains("execve", process);
        Assert.Contains("wait4", process);
        Assert.False(SyscallGroups.TryGet("basic-io", out var none));   // the leading '@' is part of the name
        Assert.Empty(none);
        Assert.False(SyscallGroups.TryGet("@nope", out _));
        Assert.False(SyscallGroups.TryGet("@default", out _));           // @default is the built-in policy, not a group
    }

    [Fact]
    public void NestedGroupsAreFlattenedWithoutDuplicates()
    {
        Assert.True(SyscallGroups.TryGet("@system-service", out var service));
        foreach (string nested in new[] { "@basic-io", "@file-system", "@io-event", "@process", "@signal", "@timer", "@base" })
        {
            Assert.True(SyscallGroups.TryGet(nested, out var inner));
            Assert.All(inner, n => Assert.Contains(n, service));
        }
        Assert.Equal(service.Count, service.Distinct().Count());
        Assert.True(SyscallGroups.TryGet("@privileged", out var privileged));
        Assert.Contains("chown", privileged);   // via @chown
        Assert.True(SyscallGroups.TryGet("@known", out var known));
        Assert.Equal(SyscallTable.X86_64.Count, known.Count);
    }

    [Fact]
    public void EveryMemberIsAnX86_64SyscallOrAGroup()
    {
        foreach (string g in SyscallGroups.Names.Where(n => n != "@known"))
            foreach (string m in SyscallGroups.GetMembers(g))
                Assert.True(m.StartsWith('@') ? SyscallGroups.TryGet(m, out _) : SyscallTable.Find(m) is not null, $"{g}: {m}");
    }

    [Fact]
    public void TheDocumentListsEveryGroupWithExactlyItsMembers()
    {
        string doc = File.ReadAllText(Path.Combine(Cli.CliRunner.RepoRoot, "docs", "POLICY-GROUPS.md"));
        // one table row per group: | `@name` | what | `a` `b` `@nested` |
        var rows = RowPattern().Matches(doc).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(SyscallGroups.Names.Where(n => n != "@known").Order(StringComparer.Ordinal), rows.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, members) in rows)
        {
            var listed = MemberPattern().Matches(members).Select(m => m.Groups[1].Value).ToArray();
            Assert.Equal(SyscallGroups.GetMembers(name), listed);
        }
    }

    [GeneratedRegex(@"^\| `(@[a-z-]+)` \| [^|]+ \| ([^|]+) \|$", RegexOptions.Multiline)]
    private static partial Regex RowPattern();

    [GeneratedRegex(@"`([@a-z0-9_-]+)`")]
    private static partial Regex MemberPattern();
}
