using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Client;

namespace Sandbox2;

/// <summary>
/// Sandbox2's typed TLV channel over an AF_UNIX stream socket. Wire format: a packed 12-byte
/// little-endian header <c>{uint32 tag; uint64 length}</c>, then <c>length</c> bytes of value
/// (see <see cref="CommsTag"/>). Descriptors travel as SCM_RIGHTS and credentials as
/// SCM_CREDENTIALS attached to the header bytes of an Fd / Creds message (whose value is empty).
/// </summary>
/// <remarks>
/// The synchronous methods (sandboxee side) use only recvmsg/sendmsg (poll when the socket is
/// non-blocking, shutdown on <see cref="Terminate"/> or a broken message) and close on Dispose,
/// so a policy needs little to keep Comms working after SandboxMeHere. The
/// asynchronous methods (executor side) wait with the runtime's socket engine. One send and one
/// receive may run at the same time; concurrent sends (or receives) are serialised.
/// A wrong-type receive throws <see cref="CommsException"/> (<see cref="CommsError.TagMismatch"/>)
/// after consuming the message; a hang-up, a truncated message or an oversized header terminates
/// the channel and every later operation throws <see cref="CommsError.Closed"/>.
/// </remarks>
public sealed partial class Comms : IDisposable
{
    /// <summary>The Comms descriptor in a sandboxee (Sandbox2's kSandbox2ClientCommsFD).</summary>
    public const int DefaultConnectionFd = 1023;
    /// <summary>Environment variable that overrides <see cref="DefaultConnectionFd"/>.</summary>
    public const string ConnectionFdVariable = "SANDBOX2_COMMS_FD";
    /// <summary>Default cap on one message: 256 MiB (use a <see cref="SharedBuffer"/> for more).</summary>
    public const long DefaultMaxMessageSize = 256L << 20;
    internal const int HeaderSize = 12;
    internal const int MaxFdsPerMessage = 16;
    const int CoalesceLimit = 4096;

    readonly SafeSocketHandle _handle;
    readonly Lock _socketLock = new();
    readonly SemaphoreSlim _sendLock = new(1, 1);
    readonly SemaphoreSlim _recvLock = new(1, 1);
    Socket? _socket;
    long _maxMessageSize = DefaultMaxMessageSize;
    volatile string? _terminated;
    volatile bool _passCred;

    /// <summary>Wraps a connected AF_UNIX stream socket; the Comms owns (and disposes) the handle.</summary>
    public Comms(SafeSocketHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (handle.IsInvalid || handle.IsClosed)
            throw new ArgumentException("the socket handle is invalid or closed", nameof(handle));
        _handle = handle;
    }

    /// <summary>The sandboxee's channel: descriptor <see cref="DefaultConnectionFd"/>, or the number in <c>SANDBOX2_COMMS_FD</c>.</summary>
    public static Comms OpenDefault()
    {
        int fd = DefaultConnectionFd;
        string? env = Environment.GetEnvironmentVariable(ConnectionFdVariable);
        if (!string.IsNullOrEmpty(env) && (!int.TryParse(env, NumberStyles.None, CultureInfo.InvariantCulture, out fd) || fd < 0))
            throw new CommsException(CommsError.NotConnected, $"{ConnectionFdVariable}='{env}' is not a descriptor number");
        return FromFd(fd);
    }

    /// <summary>Takes ownership of descriptor <paramref name="fd"/>, which must be an open socket.</summary>
    public static unsafe Comms FromFd(int fd)
    {
        Interop.Stat st;
        if (Interop.FStat(fd, &st) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new CommsException(CommsError.NotConnected,
                $"no Comms channel at descriptor {fd}: {Interop.StrError(errno)} (run the program under a Sandbox2 executor, or set {ConnectionFdVariable})");
        }
        if ((st.Mode & Interop.S_IFMT) != Interop.S_IFSOCK)
            throw new CommsException(CommsError.NotConnected, $"no Comms channel at descriptor {fd}: it is not a socket");
        return new Comms(new SafeSocketHandle(fd, ownsHandle: true));
    }

    /// <summary>A connected pair of channels (socketpair, both ends close-on-exec).</summary>
    public static (Comms First, Comms Second) CreatePair()
    {
        var (a, b) = CreateSocketPair();
        return (new Comms(a), new Comms(b));
    }

    /// <summary>A Comms for this process and the raw other end (to be placed at fd 1023 of a child).</summary>
    public static Comms CreateWithPeer(out SafeSocketHandle peerEnd)
    {
        var (a, b) = CreateSocketPair();
        peerEnd = b;
        return new Comms(a);
    }

    internal static unsafe (SafeSocketHandle, SafeSocketHandle) CreateSocketPair()
    {
        int* sv = stackalloc int[2];
        if (Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, sv) != 0)
            throw new CommsException(CommsError.Io, $"socketpair: {Interop.StrError(Marshal.GetLastPInvokeError())}");
        var pair = (new SafeSocketHandle(sv[0], true), new SafeSocketHandle(sv[1], true));
        // Both ends carry credentials (SO_PASSCRED), as Sandbox2's channels do: SendCreds works either way.
        int one = 1;
        if (Interop.SetSockOpt(pair.Item1, Interop.SOL_SOCKET, Interop.SO_PASSCRED, &one, sizeof(int)) != 0
            || Interop.SetSockOpt(pair.Item2, Interop.SOL_SOCKET, Interop.SO_PASSCRED, &one, sizeof(int)) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            pair.Item1.Dispose();
            pair.Item2.Dispose();
            throw new CommsException(CommsError.Io, $"setsockopt(SO_PASSCRED): {Interop.StrError(errno)}");
        }
        return pair;
    }

    /// <summary>The socket.</summary>
    public SafeSocketHandle Handle => _handle;

    /// <summary>Largest message value accepted by a receive, and sent by a send (default 256 MiB, at most <see cref="int.MaxValue"/>).</summary>
    public long MaxMessageSize
    {
        get => _maxMessageSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, int.MaxValue);
            _maxMessageSize = value;
        }
    }

    /// <summary>True once the peer hung up, a message was malformed beyond recovery, or <see cref="Terminate"/> was called.</summary>
    public bool IsTerminated => _terminated is not null;

    /// <summary>Ends the channel: shuts the socket down; every later operation fails with <see cref="CommsError.Closed"/>.</summary>
    public void Terminate() => MarkTerminated("the channel was terminated");

    /// <summary>Closes the channel. With async operations in use it first shuts the socket down so pending ones end;
    /// a synchronous-only channel (the sandboxee side) is just closed, so no syscall beyond close(2) is needed.</summary>
    public void Dispose()
    {
        lock (_socketLock)
        {
            if (_socket is not null)
            {
                MarkTerminated("the channel was disposed");
                _socket.Dispose();
            }
            else
            {
                _terminated ??= "the channel was disposed";
                // Close it ourselves: SafeSocketHandle's release sets SO_LINGER first, one more syscall a
                // tight post-SandboxMeHere policy would have to allow.
                if (!_handle.IsInvalid && !_handle.IsClosed)
                {
                    int fd = (int)_handle.DangerousGetHandle();
                    _handle.SetHandleAsInvalid();
                    _ = Interop.Close(fd);
                }
            }
        }
    }

    /// <summary>Credentials of the process at the other end, as of connect/socketpair time (SO_PEERCRED).</summary>
    public unsafe UnixCredentials GetPeerCredentials()
    {
        Interop.UCred cred;
        uint len = (uint)sizeof(Interop.UCred);
        if (Interop.GetSockOpt(_handle, Interop.SOL_SOCKET, Interop.SO_PEERCRED, &cred, &len) != 0)
            throw new CommsException(CommsError.Io, $"getsockopt(SO_PEERCRED): {Interop.StrError(Marshal.GetLastPInvokeError())}");
        return new UnixCredentials(cred.Pid, cred.Uid, cred.Gid);
    }

    // ---------------------------------------------------------------- state

    void MarkTerminated(string reason)
    {
        if (_terminated is not null) return;
        _terminated = reason;
        if (_handle.IsClosed) return;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            _ = ShutdownSocket(_handle.DangerousGetHandle().ToInt32());
        }
        catch (ObjectDisposedException) { }
        finally { if (added) _handle.DangerousRelease(); }
    }

    [LibraryImport("libc", EntryPoint = "shutdown")]
    private static partial int ShutdownSocket(int fd, int how = 2);

    void ThrowIfTerminated()
    {
        if (_terminated is { } reason)
            throw new CommsException(CommsError.Closed, $"Comms channel is closed: {reason}");
    }

    CommsException Hangup(int got, long expected, string what)
    {
        if (got == 0 && what == "header")
        {
            MarkTerminated("the peer closed the channel");
            return new CommsException(CommsError.Closed, "Comms channel is closed: the peer closed the channel");
        }
        MarkTerminated("the peer closed the channel in the middle of a message");
        return new CommsException(CommsError.Truncated, $"truncated message: the peer closed the channel after {got} of {expected} {what} bytes");
    }

    CommsException IoError(string call, int errno)
    {
        if (errno is Interop.EPIPE or Interop.ECONNRESET)
        {
            MarkTerminated("the peer closed the channel");
            return new CommsException(CommsError.Closed, "Comms channel is closed: the peer closed the channel");
        }
        if (_terminated is { } reason)
            return new CommsException(CommsError.Closed, $"Comms channel is closed: {reason}");
        MarkTerminated($"{call} failed");
        return new CommsException(CommsError.Io, $"Comms {call}: {Interop.StrError(errno)}");
    }

    Socket Socket
    {
        get
        {
            lock (_socketLock)
            {
                ThrowIfTerminated();
                return _socket ??= new Socket(_handle);
            }
        }
    }

    void EnablePassCred()
    {
        if (_passCred) return;
        unsafe
        {
            int one = 1;
            if (Interop.SetSockOpt(_handle, Interop.SOL_SOCKET, Interop.SO_PASSCRED, &one, sizeof(int)) != 0)
                throw IoError("setsockopt(SO_PASSCRED)", Marshal.GetLastPInvokeError());
        }
        _passCred = true;
    }

    /// <summary>SendCreds needs SO_PASSCRED on this end (the peer's cannot be asked; Sandbox2 sets it on both ends).</summary>
    unsafe void CheckPassCred()
    {
        ThrowIfTerminated();
        if (_passCred) return;
        int value = 0;
        uint length = sizeof(int);
        if (Interop.GetSockOpt(_handle, Interop.SOL_SOCKET, Interop.SO_PASSCRED, &value, &length) != 0)
            throw IoError("getsockopt(SO_PASSCRED)", Marshal.GetLastPInvokeError());
        if (value == 0)
            throw new CommsException(CommsError.MissingAncillary,
                "SendCreds: the channel does not pass credentials (SO_PASSCRED is off): the peer would receive none");
    }

    /// <summary>Refuses at once (nothing sent, the channel stays usable) a message the peer's default cap would refuse.</summary>
    void CheckSendSize(uint tag, long length)
    {
        if (length > _maxMessageSize)
            throw new CommsException(CommsError.TooLarge,
                $"message too large to send: {CommsTag.Name(tag)} of {length} bytes exceeds the limit of {_maxMessageSize} bytes (use a SharedBuffer for large data)");
    }

    (uint Tag, ulong Length) ParseHeader(ReadOnlySpan<byte> header) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(header), BinaryPrimitives.ReadUInt64LittleEndian(header[4..]));

    /// <summary>
    /// Checks the announced length against the cap and returns the first buffer for the value. Large
    /// values grow as their bytes arrive (doubling), so a header that lies about its length costs at
    /// most twice the bytes actually sent, never the announced size.
    /// </summary>
    byte[] AllocateValue(uint tag, ulong length)
    {
        if (length > (ulong)_maxMessageSize)
        {
            MarkTerminated("a message exceeded the size limit");
            throw new CommsException(CommsError.TooLarge,
                $"message too large: {CommsTag.Name(tag)} of {length} bytes exceeds the limit of {_maxMessageSize} bytes (use a SharedBuffer for large data)");
        }
        return length == 0 ? [] : new byte[Math.Min(length, InitialValueBuffer)];
    }

    const int InitialValueBuffer = 1 << 20;

    static void GrowIfFull(ref byte[] value, int filled, long length)
    {
        if (filled == value.Length && filled < length)
            Array.Resize(ref value, (int)Math.Min(length, (long)value.Length * 2));
    }

    static void WriteHeader(Span<byte> header, uint tag, long length)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, tag);
        BinaryPrimitives.WriteUInt64LittleEndian(header[4..], (ulong)length);
    }

    // ---------------------------------------------------------------- ancillary data

    /// <summary>Descriptors and credentials received with a message.</summary>
    internal sealed class Ancillary : IDisposable
    {
        public List<SafeFileHandle>? Fds;
        public UnixCredentials? Creds;

        public SafeFileHandle? TakeFirstFd()
        {
            if (Fds is not { Count: > 0 }) return null;
            var first = Fds[0];
            Fds.RemoveAt(0);
            return first;
        }

        public void Dispose()
        {
            if (Fds is null) return;
            foreach (var fd in Fds) fd.Dispose();
            Fds = null;
        }
    }

    /// <summary>What to attach to the first bytes sent.</summary>
    readonly struct Attach
    {
        public readonly SafeHandle? Fd;
        public readonly bool Creds;
        public Attach(SafeHandle? fd, bool creds) { Fd = fd; Creds = creds; }
        public bool Any => Fd is not null || Creds;
    }

    static readonly int ControlSize = Interop.CmsgSpace(sizeof(int) * MaxFdsPerMessage) + Interop.CmsgSpace(12);

    /// <summary>One recvmsg. Returns bytes read (0 = EOF) or -errno.</summary>
    unsafe int RecvMsgOnce(Span<byte> buffer, int flags, Ancillary? ancillary)
    {
        byte* control = stackalloc byte[ControlSize];
        fixed (byte* p = buffer)
        {
            var iov = new Interop.IoVec { Base = p, Length = (nuint)buffer.Length };
            var msg = new Interop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)ControlSize };
            nint r;
            do r = Interop.RecvMsg(_handle, &msg, flags | Interop.MSG_CMSG_CLOEXEC);
            while (r < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR);
            if (r < 0) return -Marshal.GetLastPInvokeError();
            ParseControl(&msg, ancillary);
            return (int)r;
        }
    }

    static unsafe void ParseControl(Interop.MsgHdr* msg, Ancillary? ancillary)
    {
        byte* start = (byte*)msg->Control;
        byte* end = start + msg->ControlLength;
        for (byte* c = start; c + sizeof(Interop.CmsgHdr) <= end;)
        {
            var h = (Interop.CmsgHdr*)c;
            if (h->Length < (nuint)sizeof(Interop.CmsgHdr) || c + h->Length > end) break;
            byte* data = c + sizeof(Interop.CmsgHdr);
            int dataLength = (int)h->Length - sizeof(Interop.CmsgHdr);
            if (h->Level == Interop.SOL_SOCKET && h->Type == Interop.SCM_RIGHTS)
            {
                for (int i = 0; i + sizeof(int) <= dataLength; i += sizeof(int))
                {
                    var fd = new SafeFileHandle(*(int*)(data + i), ownsHandle: true);
                    if (ancillary is null) fd.Dispose();
                    else (ancillary.Fds ??= []).Add(fd);
                }
            }
            else if (h->Level == Interop.SOL_SOCKET && h->Type == Interop.SCM_CREDENTIALS && dataLength >= sizeof(Interop.UCred) && ancillary is not null)
            {
                var u = *(Interop.UCred*)data;
                ancillary.Creds ??= new UnixCredentials(u.Pid, u.Uid, u.Gid);
            }
            c += Interop.CmsgAlign((int)h->Length);
        }
    }

    /// <summary>One sendmsg of up to two buffers with optional ancillary data. Returns bytes sent or -errno.</summary>
    unsafe int SendMsgOnce(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Attach attach, int flags)
    {
        int controlSize = (attach.Fd is not null ? Interop.CmsgSpace(sizeof(int)) : 0) + (attach.Creds ? Interop.CmsgSpace(sizeof(Interop.UCred)) : 0);
        byte* control = stackalloc byte[Math.Max(controlSize, 1)];
        new Span<byte>(control, Math.Max(controlSize, 1)).Clear();
        bool added = false;
        try
        {
            byte* c = control;
            if (attach.Fd is not null)
            {
                attach.Fd.DangerousAddRef(ref added);
                var h = (Interop.CmsgHdr*)c;
                h->Length = (nuint)Interop.CmsgLen(sizeof(int));
                h->Level = Interop.SOL_SOCKET;
                h->Type = Interop.SCM_RIGHTS;
                *(int*)(c + sizeof(Interop.CmsgHdr)) = attach.Fd.DangerousGetHandle().ToInt32();
                c += Interop.CmsgSpace(sizeof(int));
            }
            if (attach.Creds)
            {
                var h = (Interop.CmsgHdr*)c;
                h->Length = (nuint)Interop.CmsgLen(sizeof(Interop.UCred));
                h->Level = Interop.SOL_SOCKET;
                h->Type = Interop.SCM_CREDENTIALS;
                *(Interop.UCred*)(c + sizeof(Interop.CmsgHdr)) = new Interop.UCred { Pid = Interop.GetPid(), Uid = Interop.GetUid(), Gid = Interop.GetGid() };
            }
            fixed (byte* p1 = first)
            fixed (byte* p2 = second)
            {
                Interop.IoVec* iov = stackalloc Interop.IoVec[2];
                int n = 0;
                if (!first.IsEmpty) iov[n++] = new Interop.IoVec { Base = p1, Length = (nuint)first.Length };
                if (!second.IsEmpty) iov[n++] = new Interop.IoVec { Base = p2, Length = (nuint)second.Length };
                var msg = new Interop.MsgHdr { Iov = iov, IovLength = (nuint)n, Control = controlSize > 0 ? control : null, ControlLength = (nuint)controlSize };
                nint r;
                do r = Interop.SendMsg(_handle, &msg, flags | Interop.MSG_NOSIGNAL);
                while (r < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR);
                return r < 0 ? -Marshal.GetLastPInvokeError() : (int)r;
            }
        }
        finally
        {
            if (added) attach.Fd!.DangerousRelease();
        }
    }

    unsafe void WaitFd(short events)
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            var pfd = new Interop.PollFd { Fd = _handle.DangerousGetHandle().ToInt32(), Events = events };
            while (Interop.Poll(&pfd, 1, -1) < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) { }
        }
        finally { if (added) _handle.DangerousRelease(); }
    }

    // ---------------------------------------------------------------- synchronous core

    int RecvBlocking(Span<byte> buffer, Ancillary? ancillary)
    {
        while (true)
        {
            int r = RecvMsgOnce(buffer, 0, ancillary);
            if (r >= 0) return r;
            if (-r != Interop.EAGAIN) throw IoError("recvmsg", -r);
            WaitFd(Interop.POLLIN);
        }
    }

    /// <summary>Receives one whole message; the caller owns the returned ancillary data.</summary>
    internal (uint Tag, byte[] Value, Ancillary Ancillary) ReceiveMessage()
    {
        ThrowIfTerminated();
        _recvLock.Wait();
        var ancillary = new Ancillary();
        try
        {
            ThrowIfTerminated();
            Span<byte> header = stackalloc byte[HeaderSize];
            int got = 0;
            while (got < HeaderSize)
            {
                int n = RecvBlocking(header[got..], ancillary);
                if (n == 0) throw Hangup(got, HeaderSize, "header");
                got += n;
            }
            var (tag, length) = ParseHeader(header);
            byte[] value = AllocateValue(tag, length);
            int off = 0;
            while (off < (long)length)
            {
                GrowIfFull(ref value, off, (long)length);
                int n = RecvBlocking(value.AsSpan(off), null);
                if (n == 0) throw Hangup(off, (long)length, "value");
                off += n;
            }
            return (tag, value, ancillary);
        }
        catch
        {
            ancillary.Dispose();
            throw;
        }
        finally
        {
            _recvLock.Release();
        }
    }

    internal void SendMessage(uint tag, ReadOnlySpan<byte> value, SafeHandle? fd = null, bool creds = false)
    {
        ThrowIfTerminated();
        CheckSendSize(tag, value.Length);
        Span<byte> header = stackalloc byte[HeaderSize];
        WriteHeader(header, tag, value.Length);
        _sendLock.Wait();
        try
        {
            ThrowIfTerminated();
            var attach = new Attach(fd, creds);
            long total = HeaderSize + (long)value.Length, sent = 0;
            while (sent < total)
            {
                int r = sent < HeaderSize
                    ? SendMsgOnce(header[(int)sent..], value, sent == 0 ? attach : default, 0)
                    : SendMsgOnce(value[(int)(sent - HeaderSize)..], [], default, 0);
                if (r < 0)
                {
                    if (-r != Interop.EAGAIN) throw IoError("sendmsg", -r);
                    WaitFd(Interop.POLLOUT);
                    continue;
                }
                sent += r;
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    // ---------------------------------------------------------------- asynchronous core

    internal async ValueTask<(uint Tag, byte[] Value, Ancillary Ancillary)> ReceiveMessageAsync(CancellationToken cancellationToken)
    {
        ThrowIfTerminated();
        await _recvLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var ancillary = new Ancillary();
        bool consumed = false;
        try
        {
            ThrowIfTerminated();
            var socket = Socket;
            byte[] header = new byte[HeaderSize];
            byte[] peek = new byte[1];
            int got = 0;
            while (got < HeaderSize)
            {
                int r = RecvMsgOnce(header.AsSpan(got), Interop.MSG_DONTWAIT, ancillary);
                if (r == -Interop.EAGAIN)
                {
                    // Wait with the runtime's socket engine: a 1-byte peek consumes nothing (and leaves
                    // any descriptors queued for the recvmsg above).
                    await socket.ReceiveAsync(peek, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (r < 0) throw IoError("recvmsg", -r);
                if (r == 0) throw Hangup(got, HeaderSize, "header");
                got += r;
                consumed = true;
            }
            var (tag, length) = ParseHeader(header);
            byte[] value = AllocateValue(tag, length);
            int off = 0;
            while (off < (long)length)
            {
                GrowIfFull(ref value, off, (long)length);
                int n = await socket.ReceiveAsync(value.AsMemory(off), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0) throw Hangup(off, (long)length, "value");
                off += n;
            }
            return (tag, value, ancillary);
        }
        catch (Exception e)
        {
            ancillary.Dispose();
            if (e is OperationCanceledException && consumed) MarkTerminated("a receive was cancelled in the middle of a message");
            if (e is SocketException se) throw TranslateSocketError(se, "recv");
            if (e is ObjectDisposedException) throw new CommsException(CommsError.Closed, "Comms channel is closed: the channel was disposed", e);
            throw;
        }
        finally
        {
            _recvLock.Release();
        }
    }

    internal async ValueTask SendMessageAsync(uint tag, ReadOnlyMemory<byte> value, SafeHandle? fd, bool creds, CancellationToken cancellationToken)
    {
        ThrowIfTerminated();
        CheckSendSize(tag, value.Length);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool started = false;
        try
        {
            ThrowIfTerminated();
            var socket = Socket;
            var attach = new Attach(fd, creds);
            if (attach.Any)
            {
                byte[] header = new byte[HeaderSize];
                WriteHeader(header, tag, value.Length);
                int delayMs = 1, r;
                // Ancillary data needs our own sendmsg. It only blocks when the socket buffer is full:
                // back off briefly rather than park a thread.
                while ((r = SendMsgOnce(header, [], attach, Interop.MSG_DONTWAIT)) == -Interop.EAGAIN)
                {
                    await Task.Delay(delayMs, cancellationToken).ConfigureAwait(false);
                    delayMs = Math.Min(delayMs * 2, 50);
                }
                if (r < 0) throw IoError("sendmsg", -r);
                started = true;
                await SendAllAsync(socket, header.AsMemory(r), cancellationToken).ConfigureAwait(false);
                await SendAllAsync(socket, value, cancellationToken).ConfigureAwait(false);
            }
            else if (value.Length <= CoalesceLimit)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(HeaderSize + value.Length);
                try
                {
                    WriteHeader(buffer, tag, value.Length);
                    value.Span.CopyTo(buffer.AsSpan(HeaderSize));
                    started = true;
                    await SendAllAsync(socket, buffer.AsMemory(0, HeaderSize + value.Length), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            else
            {
                byte[] header = new byte[HeaderSize];
                WriteHeader(header, tag, value.Length);
                started = true;
                await SendAllAsync(socket, header, cancellationToken).ConfigureAwait(false);
                await SendAllAsync(socket, value, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            if (e is OperationCanceledException && started) MarkTerminated("a send was cancelled in the middle of a message");
            if (e is SocketException se) throw TranslateSocketError(se, "send");
            if (e is ObjectDisposedException) throw new CommsException(CommsError.Closed, "Comms channel is closed: the channel was disposed", e);
            throw;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[n..];
        }
    }

    CommsException TranslateSocketError(SocketException e, string call)
    {
        if (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted or SocketError.NotConnected
            || _terminated is not null)
        {
            MarkTerminated("the peer closed the channel");
            return new CommsException(CommsError.Closed, $"Comms channel is closed: {_terminated}", e);
        }
        MarkTerminated($"{call} failed");
        return new CommsException(CommsError.Io, $"Comms {call}: {e.Message}", e);
    }
}
