using System.CommandLine;

namespace Sandbox2.Cli;

/// <summary>
/// Everything after PROGRAM belongs to PROGRAM: <c>sandbox2 run df -h /tmp</c> runs <c>df -h /tmp</c>, as
/// <c>env</c>, <c>nice</c> or <c>timeout</c> do. System.CommandLine would read <c>-h</c> as its own help option, so
/// before parsing, a <c>--</c> is inserted in front of the first token of a command with a PROGRAM argument that is
/// neither an option of that command nor an option's value.
/// </summary>
internal static class ProgramArguments
{
    internal const string ArgumentName = "PROGRAM";

    public static string[] Separate(RootCommand root, string[] args)
    {
        Command command = root;
        int i = 0;
        // Walk down the subcommands (sandbox2 run ..., sandbox2 policy test ...).
        while (i < args.Length)
        {
            Command? sub = command.Subcommands.FirstOrDefault(c => c.Name == args[i] || c.Aliases.Contains(args[i]));
            if (sub is null) break;
            command = sub;
            i++;
        }
        if (!command.Arguments.Any(a => a.Name == ArgumentName))
            return args;

        var takesValue = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (Option option in command.Options.Concat(AncestorsRecursiveOptions(root)))
        {
            bool value = option.ValueType != typeof(bool);
            takesValue[option.Name] = value;
            foreach (string alias in option.Aliases) takesValue[alias] = value;
        }
        for (; i < args.Length; i++)
        {
            string token = args[i];
            if (token == "--") return args; // already separated
            if (token.StartsWith('-') && token.Length > 1)
            {
                int eq = token.IndexOf('=', StringComparison.Ordinal);
                string name = eq > 0 ? token[..eq] : token;
                if (eq < 0 && takesValue.TryGetValue(name, out bool value) && value) i++; // its value follows
                continue; // an option (or an unknown one: the parser reports it)
            }
            return [.. args[..i], "--", .. args[i..]];
        }
        return args;
    }

    private static IEnumerable<Option> AncestorsRecursiveOptions(RootCommand root) => root.Options.Where(o => o.Recursive);
}
