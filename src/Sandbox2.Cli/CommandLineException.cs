namespace Sandbox2.Cli;

/// <summary>The command line is wrong (exit status 2). The message is one line naming the problem.</summary>
internal sealed class CommandLineException : Exception
{
    public CommandLineException(string message) : base(message) { }
    public CommandLineException(string message, Exception inner) : base(message, inner) { }
    public CommandLineException() { }

    /// <summary>An option or command that a later issue builds.</summary>
    public static CommandLineException NotBuiltYet(string what) => new($"{what} is not built yet");
}
