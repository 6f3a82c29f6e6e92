namespace Sandbox2.Tests;

/// <summary>examples/SandboxMeHere: a C# program opens its input, sandboxes itself, works, and is stopped when it opens anything else.</summary>
public sealed class ExampleTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    static string Example => TestPaths.Bin("SandboxMeHere", "Sandbox2.Examples.SandboxMeHere");

    [Fact]
    public async Task CSharpExampleWorksOnItsInputAndIsKilledWhenItOpensAnotherFile()
    {
        string input = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(input, "one two three\nfour five\n");
            var comms = Comms.CreateWithPeer(out var peer);
            ChildProcess child;
            using (peer) child = ChildProcess.Start(Example, [input, "--then-open", "/etc/hostname"], peer);
            using (child)
            using (comms)
            {
                using var cts = new CancellationTokenSource(Timeout);
                var result = await ClientHandshake.RunAsync(comms, TestBpf.Deny(TestBpf.Openat, TestBpf.RetKillProcess), [], "", false, false, cts.Token);
                Assert.True(result.Sandboxed, result.FailureReason);
                Assert.Equal(5L, await comms.ReceiveInt64Async(cts.Token));
                Assert.Equal(2L, await comms.ReceiveInt64Async(cts.Token));
                var exit = await child.WaitAsync(Timeout);
                Assert.True(exit.Signal == 31, exit.ToString()); // SIGSYS: the openat after SandboxMeHere
            }
        }
        finally
        {
            File.Delete(input);
        }
    }
}
