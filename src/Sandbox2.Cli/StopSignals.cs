using System.Runtime.InteropServices;

namespace Sandbox2.Cli;

/// <summary>SIGINT, SIGTERM and SIGHUP while a sandbox runs: the tool does not die at once, it kills the sandbox
/// (through <see cref="Token"/>), reports, and exits with 128 + the signal's number, as a shell expects.</summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration[] _registrations;
    private int _signal;

    public StopSignals()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, 2)),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, 15)),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => Stop(context, 1)),
        ];
    }

    /// <summary>Cancelled when one of the signals arrives.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>The first signal that arrived (its Linux number), or null.</summary>
    public int? Signal => Volatile.Read(ref _signal) is var s and > 0 ? s : null;

    private void Stop(PosixSignalContext context, int number)
    {
        context.Cancel = true; // handled here: do not terminate the tool before the sandbox is gone
        Interlocked.CompareExchange(ref _signal, number, 0);
        _stop.Cancel();
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
            registration.Dispose();
        _stop.Dispose();
    }
}
