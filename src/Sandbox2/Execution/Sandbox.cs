namespace Sandbox2;

// STUB (owned by the execution work).
/// <summary>One running sandbox: an <see cref="Executor"/> under a <see cref="Policy"/>.</summary>
public sealed class Sandbox : IAsyncDisposable
{
    public Sandbox(Executor executor, Policy policy)
    {
        Executor = executor; Policy = policy;
    }
    public Executor Executor { get; }
    public Policy Policy { get; }
    public Task<SandboxResult> RunAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
