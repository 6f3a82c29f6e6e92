using System.CommandLine;

namespace Sandbox2.Cli;

/// <summary><c>sandbox2 trace --output FILE [RUN OPTIONS] -- PROGRAM [ARG...]</c> (CONTRACT.md): learn mode. The same
/// sandbox as <c>run</c>, every syscall recorded and allowed through the monitor, then the learned policy written to FILE.</summary>
internal static class TraceCommand
{
    private static readonly Option<string> Output = new("--output")
    {
        Description = "Write the learned policy (policy language) to FILE",
        HelpName = "FILE",
        Required = true,
    };

    public static Command Create()
    {
        var command = new Command("trace", "Learn mode: run PROGRAM in the same sandbox as 'run', allowing and recording every syscall, then write a policy that allows what it used and nothing else.");
        command.Options.Add(Output);
        RunCommand.AddOptions(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        foreach (Option option in RunCommand.PolicyOptions)
        {
            if (parsed.GetResult(option) is { Implicit: false })
                throw new CommandLineException($"{option.Name}: not taken by 'trace', which allows and records every syscall (give it to 'run' with the learned policy)");
        }
        string output = parsed.GetValue(Output) ?? "";
        if (output.Length == 0)
            throw new CommandLineException("--output: empty file name");
        string full = Path.GetFullPath(output);
        if (Directory.Exists(full))
            throw new CommandLineException($"--output {output}: is a directory");
        if (Path.GetDirectoryName(full) is { } dir && !Directory.Exists(dir))
            throw new CommandLineException($"--output {output}: directory {dir} does not exist");
        string[] command = parsed.GetValue<string[]>("PROGRAM") ?? [];
        return RunCommand.RunAsync(parsed, new Learning(full, command), cancellationToken);
    }

    /// <summary>One learn run: the recorder the monitor feeds, and where the policy goes.</summary>
    internal sealed class Learning(string outputPath, IReadOnlyList<string> command)
    {
        public SyscallRecorder Recorder { get; } = new();

        /// <summary>Writes the learned policy once the sandbox ran (whatever PROGRAM's status). False (after saying why) when
        /// it could not be written.</summary>
        public bool WritePolicy(SandboxResult result)
        {
            if (result.Status == SandboxStatus.SetupError) return true; // nothing ran: nothing learned, the setup error is reported
            var trace = Recorder.GetTrace();
            var options = new PolicyLearnerOptions
            {
                Groups = LearnGroups.Catalog,
                Comments =
                [
                    $"Learned by 'sandbox2 trace' from: {string.Join(' ', command.Select(Quote))}",
                    $"The run ended {ResultJson.StatusName(result.Status)}{(result.ExitCode is int code ? $" (exit {code})" : "")}.",
                ],
            };
            var learned = PolicyLearner.Learn(trace, options);
            try
            {
                File.WriteAllText(outputPath, learned.ToText());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Program.Error($"trace: cannot write {outputPath}: {ResultJson.OneLine(e.Message)}");
                return false;
            }
            Program.Error($"trace: wrote {outputPath}: {learned} from {trace.TotalCalls} calls");
            return true;
        }

        private static string Quote(string arg) =>
            arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "/._-=:,+@%".Contains(c, StringComparison.Ordinal))
                ? arg
                : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "'";
    }
}
