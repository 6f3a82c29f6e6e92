// Sandbox2's examples/tool (sandbox2tool) in C#: runs any program in a sandbox with the default policy, its ELF
// dependencies mounted read-only, the given directories bound read-only, a private /tmp, and a wall-clock limit;
// prints the result. The sandbox2 CLI is the full version of this.
//   usage: Sandbox2.Examples.Tool [--ro DIR]... [--time SECONDS] -- PROGRAM [ARG...]
using Sandbox2;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

var readOnly = new List<string>();
double seconds = 10;
int i = 0;
for (; i < args.Length && args[i] != "--"; i++)
{
    if (args[i] == "--ro" && i + 1 < args.Length) readOnly.Add(args[++i]);
    else if (args[i] == "--time" && i + 1 < args.Length) seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
    else { Console.Error.WriteLine($"unknown option {args[i]}"); return 2; }
}
if (i + 1 >= args.Length)
{
    Console.Error.WriteLine("usage: Sandbox2.Examples.Tool [--ro DIR]... [--time SECONDS] -- PROGRAM [ARG...]");
    return 2;
}
var executor = new Executor(args[i + 1], args[(i + 2)..]);
executor.Limits.WallTime = TimeSpan.FromSeconds(seconds);
PolicyBuilder builder = BuiltinPolicies.CreateDefault().AddTmpfs("/tmp", 64UL << 20);
if (File.Exists(executor.ProgramPath)) builder.AddLibrariesForBinary(executor.ProgramPath);
foreach (string dir in readOnly) builder.AddDirectory(dir);
await using var sandbox = new Sandbox(executor, builder.Build());
SandboxResult result = await sandbox.RunAsync();
Console.Error.WriteLine($"tool: {result.Status}" + (result.ExitCode is { } code ? $" exit {code}" : "") + $": {result.Reason}"
    + $" (wall {result.Usage.WallTime.TotalMilliseconds:0} ms, cpu {result.Usage.CpuTime.TotalMilliseconds:0} ms)");
return result.Status == SandboxStatus.Ok ? result.ExitCode ?? 1 : 1;
