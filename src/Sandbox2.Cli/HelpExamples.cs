using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Sandbox2.Cli;

/// <summary><c>--help</c> ends with examples for the command it describes, and <c>sandbox2 completion bash|zsh</c>
/// prints a shell completion script (System.CommandLine answers <c>sandbox2 [suggest:N] "LINE"</c>).</summary>
internal static class HelpExamples
{
    private static readonly Dictionary<string, string[]> Examples = new(StringComparer.Ordinal)
    {
        ["sandbox2"] =
        [
            "sandbox2 run -- /bin/echo hello               run a program with the default policy",
            "sandbox2 run --time-limit 5 sort -r data.txt  everything after PROGRAM is PROGRAM's",
            "source <(sandbox2 completion bash)            shell completion",
        ],
        ["run"] =
        [
            "sandbox2 run -- /bin/echo hello",
            "sandbox2 run df -h /tmp                                   options after PROGRAM are PROGRAM's",
            "sandbox2 run --ro-bind data:/data --cwd /data -- wc -l input.txt",
            "sandbox2 run --time-limit 2 --memory-limit 256M --result - -- ./untrusted",
            "sandbox2 run --bind out:/out --tmpfs /tmp:16M -- gzip -c /etc/hostname",
            "sandbox2 run --allow getrandom --stack-trace -- ./tool",
        ],
    };

    /// <summary>Adds the examples section to every <c>--help</c> and the <c>completion</c> command.</summary>
    public static void Install(RootCommand root)
    {
        root.Add(CompletionCommand());
        foreach (HelpOption help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction standard)
                help.Action = new WithExamples(standard);
        }
    }

    /// <summary>The standard help, then the examples of the command it describes.</summary>
    internal sealed class WithExamples(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int rc = standard.Invoke(parseResult);
            Command command = parseResult.CommandResult.Command;
            string name = command is RootCommand ? "sandbox2" : command.Name;
            if (Examples.TryGetValue(name, out string[]? lines))
            {
                TextWriter output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (string line in lines) output.WriteLine("  " + line);
                output.WriteLine();
            }
            return rc;
        }
    }

    private static Command CompletionCommand()
    {
        var shell = new Argument<string>("SHELL") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script: source <(sandbox2 completion bash)") { shell };
        command.SetAction(parsed =>
        {
            Console.Out.Write(parsed.GetValue(shell) == "zsh" ? Zsh : Bash);
            return 0;
        });
        return command;
    }

    private const string Bash = """
        # sandbox2 completion for bash: source <(sandbox2 completion bash)
        _sandbox2_complete() {
          local IFS=$'\n'
          local candidates
          candidates=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) || return
          COMPREPLY=( $(compgen -W "${candidates}" -- "${COMP_WORDS[COMP_CWORD]}") )
        }
        complete -o default -o bashdefault -F _sandbox2_complete sandbox2

        """;

    private const string Zsh = """
        # sandbox2 completion for zsh: source <(sandbox2 completion zsh)
        _sandbox2_complete() {
          local -a candidates
          candidates=("${(@f)$(${words[1]} "[suggest:${#BUFFER}]" "${BUFFER}" 2>/dev/null)}")
          _describe 'sandbox2' candidates
        }
        compdef _sandbox2_complete sandbox2

        """;
}
