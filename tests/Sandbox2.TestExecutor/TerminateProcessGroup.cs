using System.Runtime.InteropServices;
using Sandbox2;

/// <summary>The sandboxer of Sandbox2's TerminatingProcessGroup test (the child part of its
/// testcases/terminate_process_group): starts SANDBOXEE (s2c_terminate_process_group_sandboxee) in a sandbox — the
/// forkserver is started now, in the process group it was given — waits for the sandboxee's bool, moves itself to a
/// process group of its own, and then talks to the test over stdin/stdout, one line each way at a time:
/// <c>started pgid=P sandboxee=PID</c> (PID: the sandboxee's host pid, PID 2 of its namespace); it reads one line (the test killed the old
/// group), sends the sandboxee its bool, and prints <c>result STATUS EXITCODE</c>.</summary>
internal static partial class TerminateProcessGroup
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string sandboxee)
    {
        var policy = new PolicyBuilder().DefaultAction(SyscallAction.Allow).AllowMapExec().AddLibrariesForBinary(sandboxee).Build();
        var started = new Started();
        var executor = new Executor(sandboxee) { EnableComms = true, Limits = new Limits { WallTime = Timeout } };
        await using var sandbox = new Sandbox(executor, policy, started);
        var run = sandbox.RunAsync();
        if (!await sandbox.Ready.WaitAsync(Timeout))
        {
            Console.WriteLine($"error: the sandbox did not start: {await run}");
            return 3;
        }
        _ = await sandbox.Comms!.RecvBoolAsync().AsTask().WaitAsync(Timeout); // the sandboxee runs
        if (SetPgid(0, 0) != 0)
        {
            Console.WriteLine($"error: setpgid: errno {Marshal.GetLastPInvokeError()}");
            return 4;
        }
        int pid = await started.Pid.Task.WaitAsync(Timeout);
        // EventStarted is given the sandboxee's host pid (PID 2 of its namespace), as Sandbox2's is.
        if (!File.ReadLines($"/proc/{pid}/status").Any(l => l.StartsWith("NSpid:", StringComparison.Ordinal) && l.EndsWith("\t2", StringComparison.Ordinal)))
        {
            Console.WriteLine($"error: EventStarted's pid {pid} is not the sandboxee");
            return 5;
        }
        Console.WriteLine($"started pgid={GetPgrp()} sandboxee={pid}");
        _ = await Console.In.ReadLineAsync().WaitAsync(Timeout);
        await sandbox.Comms!.SendBoolAsync(true).AsTask().WaitAsync(Timeout);
        var result = await run.WaitAsync(Timeout);
        Console.WriteLine($"result {result.Status} {result.ExitCode}");
        return 0;
    }

    private sealed class Started : Notify
    {
        public TaskCompletionSource<int> Pid { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ValueTask<bool> EventStartedAsync(int pid, CancellationToken cancellationToken)
        {
            Pid.TrySetResult(pid);
            return ValueTask.FromResult(true);
        }
    }

    [LibraryImport("libc", EntryPoint = "setpgid", SetLastError = true)]
    private static partial int SetPgid(int pid, int pgid);

    [LibraryImport("libc", EntryPoint = "getpgrp")]
    private static partial int GetPgrp();
}
