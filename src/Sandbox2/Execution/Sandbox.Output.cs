using System.IO.Pipelines;
using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

// Output capture like System.Diagnostics.Process: RedirectStandardOutput/Error, then read StandardOutput/Error.
public sealed partial class Sandbox
{
    private OutputPipe? _stdoutPipe, _stderrPipe;

    /// <summary>Like <see cref="System.Diagnostics.ProcessStartInfo.RedirectStandardOutput"/>: the program's standard
    /// output goes to a pipe read through <see cref="StandardOutput"/> (instead of <see cref="Executor.Stdout"/>,
    /// which must then be left null). Read it while the sandbox runs: a full pipe (64 KiB) blocks the program, as it
    /// would a process. The stream ends when the sandbox has ended.</summary>
    public bool RedirectStandardOutput
    {
        get => _stdoutPipe is not null;
        init { if (value) _stdoutPipe ??= new OutputPipe(); }
    }

    /// <summary>As <see cref="RedirectStandardOutput"/>, for standard error (<see cref="StandardError"/>).</summary>
    public bool RedirectStandardError
    {
        get => _stderrPipe is not null;
        init { if (value) _stderrPipe ??= new OutputPipe(); }
    }

    /// <summary>The program's standard output (<see cref="RedirectStandardOutput"/>); disposed with the sandbox.</summary>
    /// <exception cref="InvalidOperationException">It was not redirected.</exception>
    public Stream StandardOutput => _stdoutPipe?.Reader
        ?? throw new InvalidOperationException("StandardOutput was not redirected: create the Sandbox with RedirectStandardOutput = true");

    /// <summary>The program's standard error (<see cref="RedirectStandardError"/>); disposed with the sandbox.</summary>
    /// <exception cref="InvalidOperationException">It was not redirected.</exception>
    public Stream StandardError => _stderrPipe?.Reader
        ?? throw new InvalidOperationException("StandardError was not redirected: create the Sandbox with RedirectStandardError = true");

    /// <summary>The program's standard output as a <see cref="PipeReader"/> (over <see cref="StandardOutput"/>; made once).
    /// Read either this or the stream, not both.</summary>
    /// <exception cref="InvalidOperationException">It was not redirected.</exception>
    public PipeReader StandardOutputReader => _stdoutReader ??= PipeReader.Create(StandardOutput, new StreamPipeReaderOptions(leaveOpen: true));

    /// <summary>The program's standard error as a <see cref="PipeReader"/> (over <see cref="StandardError"/>; made once).</summary>
    /// <exception cref="InvalidOperationException">It was not redirected.</exception>
    public PipeReader StandardErrorReader => _stderrReader ??= PipeReader.Create(StandardError, new StreamPipeReaderOptions(leaveOpen: true));

    private PipeReader? _stdoutReader, _stderrReader;

    /// <summary>At the start of the run: the executor's stdout/stderr become the pipes' write ends.</summary>
    private void AttachOutputPipes()
    {
        if (_stdoutPipe is not null)
        {
            if (Executor.Stdout is not null) throw new InvalidOperationException("RedirectStandardOutput and Executor.Stdout cannot both be set");
            Executor.Stdout = _stdoutPipe.WriteEnd;
        }
        if (_stderrPipe is not null)
        {
            if (Executor.Stderr is not null) throw new InvalidOperationException("RedirectStandardError and Executor.Stderr cannot both be set");
            Executor.Stderr = _stderrPipe.WriteEnd;
        }
    }

    /// <summary>When the run is over: our copies of the write ends close, so readers see the end of the stream.</summary>
    private void CloseOutputPipeWriters()
    {
        _stdoutPipe?.CloseWriteEnd();
        _stderrPipe?.CloseWriteEnd();
    }

    private void DisposeOutputPipes()
    {
        _stdoutPipe?.Dispose();
        _stderrPipe?.Dispose();
    }

    /// <summary>One pipe: the reader is ours, the write end goes to the sandboxee (through the forkserver).</summary>
    private sealed class OutputPipe : IDisposable
    {
        private readonly AnonymousPipeServerStream _server = new(PipeDirection.In, HandleInheritability.None);

        public Stream Reader => _server;

        /// <summary>The write end as the executor's handle type (not owning: the pipe stream owns it).</summary>
        public SafeFileHandle WriteEnd => new(_server.ClientSafePipeHandle.DangerousGetHandle(), ownsHandle: false);

        public void CloseWriteEnd() => _server.DisposeLocalCopyOfClientHandle();

        public void Dispose() => _server.Dispose();
    }
}
