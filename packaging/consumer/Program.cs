// A consumer of the Sandbox2 package, as a .NET developer would write it (implicit usings on: no clash with
// System.Buffer or anything else). Runs /bin/echo in a sandbox and prints where the forkserver came from.
using Sandbox2;

Console.WriteLine($"forkserver: {GlobalForkServer.Describe()}");
var policy = BuiltinPolicies.CreateDefault()
    .AddLibrariesForBinary("/bin/echo")
    .Build();
var executor = new Executor("/bin/echo", ["hello from a package"]) { Limits = new Limits { WallTime = TimeSpan.FromSeconds(30) } };
await using var sandbox = new Sandbox(executor, policy);
SandboxResult result = await sandbox.RunAsync();
Console.WriteLine($"result: {result}");
return result.Status == SandboxStatus.Ok && result.ExitCode == 0 ? 0 : 1;
