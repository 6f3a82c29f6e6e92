namespace Sandbox2.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Out.WriteLine("sandbox2 " + SandboxVersion.Text + ": run programs in a Linux sandbox (see README).");
        return args.Length == 0 ? 0 : 2;
    }
}
