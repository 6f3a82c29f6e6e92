using System.CommandLine;
using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

namespace Sandbox2.Cli;

/// <summary>The <c>sandbox2</c> command.</summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        try
        {
            RootCommand root = CreateRootCommand();
            // No @response-file expansion: every argument is taken literally.
            ParseResult parsed = root.Parse(ProgramArguments.Separate(root, args), new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (parsed.Errors.Count > 0 && parsed.Action is not HelpExamples.WithExamples) // --help works without PROGRAM
            {
                // One line, naming the problem (System.CommandLine would print help and every error).
                string command = parsed.CommandResult.Command is RootCommand ? "sandbox2" : "sandbox2 " + parsed.CommandResult.Command.Name;
                string problem = parsed.UnmatchedTokens.Count > 0
                    ? $"unrecognized option or argument '{parsed.UnmatchedTokens[0]}'"
                    : ResultJson.OneLine(parsed.Errors[0].Message);
                Error($"{problem} (see '{command} --help')");
                return ExitStatus.BadCommandLine;
            }
            // Signals are handled by 'run' itself (StopSignals): it kills the sandbox before exiting.
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }).ConfigureAwait(false);
        }
        catch (CommandLineException e)
        {
            Error(e.Message);
            return ExitStatus.BadCommandLine;
        }
        catch (Exception e)
        {
            // Never a stack trace at the user: one line, exit status of an internal error.
            Error($"internal error: {ResultJson.OneLine(e.Message)} ({e.GetType().Name})");
            return ExitStatus.SetupError;
        }
    }

    internal static void Error(string message) => Console.Error.WriteLine("sandbox2: " + message);

    private static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("sandbox2: run a program in a Linux sandbox (namespaces, seccomp-bpf, resource limits).")
        {
            RunCommand.Create(),
            NotBuiltYetCommand("policy", "Check or compile a policy file (not built yet)."),
            TraceCommand.Create(),
            DoctorCommand.Create(),
        };
        HelpExamples.Install(root);
        return root;
    }

    private static Command NotBuiltYetCommand(string name, string description)
    {
        var command = new Command(name, description)
        {
            new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Hidden = true },
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(int (_) => throw CommandLineException.NotBuiltYet($"the '{name}' command"));
        return command;
    }
}
