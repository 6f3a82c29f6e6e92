using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Client;

namespace Sandbox2;

/// <summary>What the sandboxee answered at the end of the SandboxMeHere handshake.</summary>
/// <param name="Sandboxed">The filter is installed on every thread.</param>
/// <param name="Listener">The seccomp user-notification listener (ModeUnotify only; the caller owns it).</param>
/// <param name="FailureReason">Why the client refused (it throws/aborts right after; the executor should stop it).</param>
internal sealed record ClientHandshakeResult(bool Sandboxed, SafeFileHandle? Listener, string? FailureReason);

/// <summary>
/// The executor side of the SandboxMeHere handshake (<see cref="SandboxMeHereProtocol"/>): waits for
/// the client's hello, sends the mapped descriptors, the working directory, the compiled policy and
/// the mode (with the speculation flag when the policy allows it), and reads the outcome. A sandboxee
/// that breaks the protocol gets a <see cref="CommsException"/>; a client that refuses gets a result
/// with its reason.
/// </summary>
internal static class ClientHandshake
{
    /// <summary>After the filter is on, the client still sends (sendmsg on fd 1023) and closes the listener. The compile
    /// options allow both after the user's rules; a user rule that decides otherwise would make the handshake hang or
    /// die half-way, so it is refused here (<see cref="PolicyException"/>).</summary>
    public static void CheckPolicy(Policy policy, PolicyCompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(policy);
        foreach (var (nr, name) in (ReadOnlySpan<(int, string)>)[(Policy.NrSendmsg, "sendmsg"), (Policy.NrClose, "close")])
        {
            int commsFd = options.CommsFd ?? Comms.DefaultConnectionFd;
            var call = new Syscall(SyscallArch.X86_64, nr, [(ulong)commsFd, 0, 0, 0, 0, 0]);
            var action = policy.Evaluate(call, options);
            if (action.Kind != SyscallActionKind.Allow)
                throw new PolicyException($"SandboxMeHere needs {name}(fd {commsFd}) to be allowed after the filter is installed, " +
                    $"but the policy makes it {action} ({policy.Explain(call, options)})");
        }
    }

    /// <summary>Runs the handshake. <paramref name="speculationAllowed"/> (the policy's <c>AllowSeccompSpeculation()</c>) sets
    /// <see cref="SandboxMeHereProtocol.SpeculationBit"/> in the mode word: the client then installs the filter with
    /// SECCOMP_FILTER_FLAG_SPEC_ALLOW, as the forkserver does before exec.</summary>
    public static async Task<ClientHandshakeResult> RunAsync(Comms comms, ReadOnlyMemory<byte> bpf, IReadOnlyList<MappedFd> fds, string cwd,
        bool notifyListener, bool speculationAllowed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(comms);
        ArgumentNullException.ThrowIfNull(fds);
        ArgumentNullException.ThrowIfNull(cwd);
        if (bpf.Length == 0 || bpf.Length % 8 != 0 || bpf.Length / 8 > SandboxMeHereProtocol.MaxBpfInstructions)
            throw new ArgumentException($"bad BPF program of {bpf.Length} bytes", nameof(bpf));

        var hello = await comms.ReceiveTlvAsync(cancellationToken).ConfigureAwait(false);
        if (hello.Tag != CommsTag.Version || hello.Value.Length != 4)
            throw new CommsException(CommsError.TagMismatch, $"SandboxMeHere handshake: expected the client's Version message, received {CommsTag.Name(hello.Tag)} ({hello.Value.Length} bytes)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(hello.Value);

        byte[] ours = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(ours, SandboxMeHereProtocol.Version);
        await comms.SendTlvAsync(CommsTag.Version, ours, cancellationToken).ConfigureAwait(false);
        if (version != SandboxMeHereProtocol.Version)
        {
            // The client sees our version, reports the mismatch and gives up.
            return await ReadOutcomeAsync(comms, false, cancellationToken).ConfigureAwait(false);
        }

        await comms.SendUint32Async((uint)fds.Count, cancellationToken).ConfigureAwait(false);
        foreach (var fd in fds)
        {
            await comms.SendInt32Async(fd.RemoteFd, cancellationToken).ConfigureAwait(false);
            await comms.SendStringAsync(fd.Name, cancellationToken).ConfigureAwait(false);
            await comms.SendFdAsync(fd.Handle, cancellationToken).ConfigureAwait(false);
        }
        await comms.SendStringAsync(cwd, cancellationToken).ConfigureAwait(false);
        await comms.SendBytesAsync(bpf, cancellationToken).ConfigureAwait(false);
        uint mode = (notifyListener ? SandboxMeHereProtocol.ModeUnotify : SandboxMeHereProtocol.ModePlain)
            | (speculationAllowed ? SandboxMeHereProtocol.SpeculationBit : 0);
        await comms.SendUint32Async(mode, cancellationToken).ConfigureAwait(false);
        return await ReadOutcomeAsync(comms, notifyListener, cancellationToken).ConfigureAwait(false);
    }

    static async Task<ClientHandshakeResult> ReadOutcomeAsync(Comms comms, bool notifyListener, CancellationToken cancellationToken)
    {
        if (!await comms.ReceiveBoolAsync(cancellationToken).ConfigureAwait(false))
        {
            string reason = await comms.ReceiveStringAsync(cancellationToken).ConfigureAwait(false);
            if (reason.Length > 1000) reason = reason[..1000];
            return new ClientHandshakeResult(false, null, reason.ReplaceLineEndings(" "));
        }
        SafeFileHandle? listener = notifyListener ? await comms.ReceiveFdAsync(cancellationToken).ConfigureAwait(false) : null;
        try
        {
            uint ready = await comms.ReceiveUint32Async(cancellationToken).ConfigureAwait(false);
            if (ready != SandboxMeHereProtocol.ClientReady)
                throw new CommsException(CommsError.BadValue, $"SandboxMeHere handshake: expected ClientReady 0x{SandboxMeHereProtocol.ClientReady:X8}, received 0x{ready:X8}");
            return new ClientHandshakeResult(true, listener, null);
        }
        catch
        {
            listener?.Dispose();
            throw;
        }
    }
}
