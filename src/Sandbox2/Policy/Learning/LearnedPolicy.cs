using System.Globalization;
using System.Text;

namespace Sandbox2;

/// <summary>
/// A policy learned from a run (<see cref="PolicyLearner.Learn"/>): the named groups it uses and the syscalls it allows,
/// each unconditionally or on the argument values seen; anything else is a violation (<c>DEFAULT KILL</c>).
/// <see cref="ToText"/> writes it in the policy language; <see cref="ApplyTo"/> builds the same rules with a
/// <see cref="PolicyBuilder"/> (the model the text must compile to).
/// </summary>
public sealed class LearnedPolicy
{
    internal LearnedPolicy(string name, IReadOnlyList<string> comments, IReadOnlyList<(string Name, IReadOnlyList<int> Numbers)> groups,
        IReadOnlyList<LearnedRule> rules, bool requiresMapExec)
    {
        Name = name;
        Comments = comments;
        GroupsUsed = groups;
        Rules = rules;
        RequiresMapExec = requiresMapExec;
    }

    /// <summary>The <c>POLICY</c> block's name.</summary>
    public string Name { get; }

    /// <summary>The comment lines at the top.</summary>
    public IReadOnlyList<string> Comments { get; }

    /// <summary>The groups used (<c>USE @name</c>) with the syscall numbers each stands for.</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<int> Numbers)> GroupsUsed { get; }

    /// <summary>The syscalls listed one by one, by name.</summary>
    public IReadOnlyList<LearnedRule> Rules { get; }

    /// <summary>The preset that turns the W^X guard off (Allow(MapExec)), so that the learned mmap/mprotect conditions decide.</summary>
    public const string MapExecPreset = "allow_map_exec";

    /// <summary>The run mapped or protected memory executable (a JIT, ld.so): the W^X guard must be off (Allow(MapExec)).</summary>
    public bool RequiresMapExec { get; }

    /// <summary>Every syscall number the policy allows (some of them on conditions).</summary>
    public IReadOnlySet<int> AllowedNumbers =>
        new SortedSet<int>(Rules.Select(r => r.Number).Concat(GroupsUsed.SelectMany(g => g.Numbers)));

    /// <summary>The policy in the policy language (Kafel syntax plus <c>USE @group</c>).</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        foreach (string line in Comments) text.Append("// ").Append(line).Append('\n');
        text.Append("POLICY ").Append(Name).Append(" {\n");
        var statements = new List<string>();
        if (RequiresMapExec) statements.Add("  USE " + MapExecPreset);
        foreach (var (group, _) in GroupsUsed) statements.Add("  USE " + group);
        if (Rules.Count > 0 || statements.Count == 0) statements.Add(AllowBlock());
        text.Append(string.Join(",\n", statements)).Append('\n');
        text.Append("}\n");
        text.Append("USE ").Append(Name).Append(" DEFAULT KILL\n");
        return text.ToString();
    }

    private string AllowBlock()
    {
        var block = new StringBuilder("  ALLOW {\n");
        var items = new List<string>();
        // Unconditional ones packed on lines, conditional ones one per line.
        var line = new StringBuilder();
        foreach (var rule in Rules.Where(r => r.ConditionText is null))
        {
            if (line.Length > 0 && line.Length + rule.Name.Length > 96)
            {
                items.Add(line.ToString());
                line.Clear();
            }
            if (line.Length > 0) line.Append(", ");
            line.Append(rule.Name);
        }
        if (line.Length > 0) items.Add(line.ToString());
        items.AddRange(Rules.Where(r => r.ConditionText is not null).Select(r => r.ToText()));
        block.Append(string.Join(",\n", items.Select(i => "    " + i)));
        if (items.Count > 0) block.Append('\n');
        block.Append("  }");
        return block.ToString();
    }

    /// <summary>Adds the policy's rules to <paramref name="builder"/> (each group expanded to its syscalls:
    /// all allowed) and Allow(MapExec) when needed; the default stays a violation.</summary>
    public PolicyBuilder ApplyTo(PolicyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var rule in Rules)
        {
            if (rule.When is null) builder.AllowSyscall(rule.Number);
            else builder.AddPolicyOnSyscall(rule.Number, rule.When, SyscallAction.Allow);
        }
        foreach (var (_, numbers) in GroupsUsed)
            foreach (int n in numbers) builder.AllowSyscall(n);
        if (RequiresMapExec) builder.AllowMapExec();
        return builder;
    }

    /// <summary>The number of statements a reader sees: group uses plus listed syscalls.</summary>
    public int Size => GroupsUsed.Count + Rules.Count;

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: {AllowedNumbers.Count} syscalls ({GroupsUsed.Count} groups, {Rules.Count} listed, {Rules.Count(r => r.When is not null)} with conditions)");
}
