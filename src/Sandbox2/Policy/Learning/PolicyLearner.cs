using System.Globalization;

namespace Sandbox2;

/// <summary>
/// Turns what learn mode saw (<see cref="SyscallTrace"/>) into a minimal policy (<see cref="LearnedPolicy"/>): every
/// syscall that was made is allowed — on the argument values seen where they were few (descriptors, ioctl requests,
/// fcntl commands, socket families, clone and open flags, ...) —, named groups stand in for the syscalls they cover
/// exactly (every member seen, none of them conditioned), and nothing else is allowed.
/// </summary>
public static class PolicyLearner
{
    /// <summary>PROT_EXEC, the bit that needs Allow(MapExec).</summary>
    private const ulong ProtExec = 4;

    /// <summary>Learns the policy of <paramref name="trace"/>.</summary>
    public static LearnedPolicy Learn(SyscallTrace trace, PolicyLearnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        options ??= new PolicyLearnerOptions();
        var rules = new List<LearnedRule>();
        bool mapExec = false;
        foreach (var seen in trace.Syscalls)
        {
            rules.Add(RuleFor(seen, options));
            if (seen.Name is "mmap" or "mprotect" or "pkey_mprotect"
                && seen.Arguments.FirstOrDefault(a => a.Argument.Index == 2) is { } prot && (prot.UnionOfBits & ProtExec) != 0)
                mapExec = true;
        }
        var groups = ChooseGroups(rules, options.Groups);
        var covered = groups.SelectMany(g => g.Numbers).ToHashSet();
        var listed = rules.Where(r => !covered.Contains(r.Number)).OrderBy(r => r.Name, StringComparer.Ordinal).ToList();

        var comments = new List<string>(options.Comments);
        string threads = trace.ThreadsOverflowed ? $"more than {trace.Threads}" : trace.Threads.ToString(CultureInfo.InvariantCulture);
        comments.Add(string.Create(CultureInfo.InvariantCulture,
            $"{trace.TotalCalls} calls of {trace.Syscalls.Count} syscalls by {threads} task(s); {groups.Count} group(s), {listed.Count} syscalls listed, {listed.Count(r => r.When is not null)} on the argument values seen."));
        if (mapExec) comments.Add($"It maps memory executable (mmap/mprotect with PROT_EXEC): USE {LearnedPolicy.MapExecPreset} lets the mmap/mprotect rules below decide.");
        if (trace.NumbersOverflowed) comments.Add($"WARNING: more than {SyscallRecorder.MaxNumbers} distinct syscall numbers were made; only the first are allowed.");
        comments.Add("Any other syscall is a violation.");
        return new LearnedPolicy(options.PolicyName, comments, groups, listed, mapExec);
    }

    /// <summary>The rule for one syscall: the conjunction, over its learnable arguments, of "one of the values seen"
    /// (when few) or, for flags, "no bit outside those seen".</summary>
    internal static LearnedRule RuleFor(SyscallObservation seen, PolicyLearnerOptions options)
    {
        string name = KafelNames.Of(seen.Number);
        string tableName = seen.Name;
        var conditions = new List<(ArgCondition Model, string Text, bool Compound)>();
        foreach (var arg in seen.Arguments)
        {
            var a = arg.Argument;
            var at = a.Is32Bit ? Arg.Low32(a.Index) : Arg.Of(a.Index);
            int limit = a.Kind switch { ArgumentKind.Fd => options.MaxFds, ArgumentKind.Enum => options.MaxEnumValues, _ => options.MaxFlagValues };
            if (arg.Values.Count == 0) continue;
            if (!arg.Overflowed && arg.Values.Count <= limit)
            {
                var model = ArgCondition.Any(arg.Values.Select(v => at.Equal(v)).ToArray());
                bool hex = a.Kind == ArgumentKind.Flags || tableName == "ioctl";
                var text = string.Join(" || ", arg.Values.Select(v => $"{arg.Name} == {Number(v, hex)}{Comment(tableName, a.Index, v)}"));
                conditions.Add((model, text, arg.Values.Count > 1));
            }
            else if (a.Kind == ArgumentKind.Flags)
            {
                ulong outside = ~arg.UnionOfBits & (a.Is32Bit ? 0xffffffffUL : ulong.MaxValue);
                if (outside == 0) continue;
                conditions.Add((at.MaskedEqual(outside, 0), $"({arg.Name} & {Number(outside)}) == 0{Comment(tableName, a.Index, arg.UnionOfBits, "only ")}", false));
            }
        }
        if (conditions.Count == 0) return new LearnedRule(seen.Number, name, [], null, null);
        var when = ArgCondition.All(conditions.Select(c => c.Model).ToArray());
        string conditionText = conditions.Count == 1
            ? conditions[0].Text
            : string.Join(" && ", conditions.Select(c => c.Compound ? $"({c.Text})" : c.Text));
        var info = SyscallTable.Find(seen.Number);
        int declared = seen.Arguments.Max(x => x.Argument.Index) + 1;
        var argNames = Enumerable.Range(0, Math.Max(declared, info?.ArgCount ?? 0))
            .Select(i => info is not null && i < info.ArgNames.Count ? info.ArgNames[i] : $"arg{i}").ToArray();
        return new LearnedRule(seen.Number, name, argNames, when, conditionText);
    }

    /// <summary>Greedy exact cover: the largest groups first, each used when every one of its syscalls was seen and allowed
    /// without condition and it covers at least two not covered yet.</summary>
    internal static List<(string Name, IReadOnlyList<int> Numbers)> ChooseGroups(List<LearnedRule> rules, IReadOnlyDictionary<string, IReadOnlyList<string>>? catalog)
    {
        var chosen = new List<(string Name, IReadOnlyList<int> Numbers)>();
        if (catalog is null || catalog.Count == 0) return chosen;
        var unconditional = rules.Where(r => r.When is null).Select(r => r.Number).ToHashSet();
        var candidates = new List<(string Name, int[] Numbers)>();
        foreach (var name in catalog.Keys)
        {
            var numbers = Expand(name, catalog, 0);
            if (numbers is { Count: >= 2 } && numbers.All(unconditional.Contains))
                candidates.Add((name, numbers.Order().ToArray()));
        }
        var covered = new HashSet<int>();
        foreach (var (name, numbers) in candidates.OrderByDescending(c => c.Numbers.Length).ThenBy(c => c.Name, StringComparer.Ordinal))
        {
            if (numbers.Count(n => !covered.Contains(n)) < 2) continue;
            chosen.Add((name, numbers));
            covered.UnionWith(numbers);
        }
        return chosen;
    }

    /// <summary>A group's syscall numbers (nested groups expanded; names this ABI lacks skipped); null when it names an unknown group or nests too deep.</summary>
    private static HashSet<int>? Expand(string group, IReadOnlyDictionary<string, IReadOnlyList<string>> catalog, int depth)
    {
        if (depth > 8 || !catalog.TryGetValue(group, out var members)) return null;
        var numbers = new HashSet<int>();
        foreach (string member in members)
        {
            if (member.StartsWith('@'))
            {
                var inner = Expand(member, catalog, depth + 1);
                if (inner is null) return null;
                numbers.UnionWith(inner);
            }
            else if (SyscallTable.Find(member) is { } info) numbers.Add(info.Number);
        }
        return numbers;
    }

    private static string Number(ulong v, bool hex = true) => v < 10 || (!hex && v < 1024)
        ? v.ToString(CultureInfo.InvariantCulture)
        : "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    private static string Comment(string syscall, int index, ulong value, string prefix = "") =>
        LearnedConstants.Describe(syscall, index, value) is { } name ? $" /* {prefix}{name} */" : "";
}
