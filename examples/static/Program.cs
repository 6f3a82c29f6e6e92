// Sandbox2's examples/static in C#: a statically linked program (static_bin, beside this one) under a policy written
// for it, custom rules with argument conditions included: read only from fd 0, write only to fd 1. Nothing is mounted
// but the program itself (a static binary needs no libraries). Standard input is passed on.
//   usage: Sandbox2.Examples.Static [--also-stderr]     (--also-stderr: the program also writes to fd 2: a VIOLATION)
using Sandbox2;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

string program = Path.Combine(AppContext.BaseDirectory, "static_bin");
var policy = new PolicyBuilder()
    .AllowStaticStartup()
    .AllowExit()
    .AddPolicyOnSyscall("read", Arg.Of(0).Equal(0), SyscallAction.Allow)    // stdin only
    .AddPolicyOnSyscall("write", Arg.Of(0).Equal(1), SyscallAction.Allow)   // stdout only
    .BlockSyscallWithErrno("openat", 2)                                     // ENOENT, should libc look for a file
    .Build();
var executor = new Executor(program, args.Contains("--also-stderr") ? ["x"] : []);
await using var sandbox = new Sandbox(executor, policy);
SandboxResult result = await sandbox.RunAsync();
Console.Error.WriteLine($"static_bin: {result.Status} {result.Reason}"
    + (result.Violation is { } v ? $" (violation: {v.Description})" : ""));
return result.Status == SandboxStatus.Ok ? result.ExitCode ?? 1 : 1;
