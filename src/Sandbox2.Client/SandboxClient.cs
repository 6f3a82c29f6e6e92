using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Client;

/// <summary>
/// The sandboxee side of Sandbox2's "sandbox after start" mode (Sandbox2's <c>Client</c>): a
/// program started unfiltered does its setup, then calls <see cref="SandboxMeHere"/>, which
/// receives the compiled policy, mapped descriptors and working directory from the executor (see
/// <see cref="SandboxMeHereProtocol"/>) and installs the filter on every thread with
/// SECCOMP_FILTER_FLAG_TSYNC (and SECCOMP_FILTER_FLAG_SPEC_ALLOW when the policy allows speculation).
/// A multithreaded process (every .NET process) whose threads cannot all be synchronised is refused:
/// <see cref="SandboxMeHereException"/> names a thread that could not be.
/// </summary>
public sealed class SandboxClient : IDisposable
{
    /// <summary>Test hook, honoured only here: "1" makes SandboxMeHere act as on a kernel without TSYNC.</summary>
    public const string NoTsyncTestVariable = "SANDBOX2_TEST_NO_TSYNC";

    readonly Dictionary<string, SafeFileHandle> _mappedFds = new(StringComparer.Ordinal);
    bool _handshakeDone;

    /// <summary>A client on the default channel (fd 1023 or <c>SANDBOX2_COMMS_FD</c>).</summary>
    public SandboxClient() : this(Comms.OpenDefault()) { }

    /// <summary>A client on <paramref name="comms"/> (which it owns from now on).</summary>
    public SandboxClient(Comms comms)
    {
        ArgumentNullException.ThrowIfNull(comms);
        Comms = comms;
    }

    /// <summary>The channel to the executor; free for the program's own use after <see cref="SandboxMeHere"/>.</summary>
    public Comms Comms { get; }

    /// <summary>True after a successful <see cref="SandboxMeHere"/>.</summary>
    public bool IsSandboxed { get; private set; }

    /// <summary>Environment variable with the named descriptors of a program sandboxed before exec
    /// (<c>name:fd,name:fd</c>, names percent-encoded; Sandbox2 passes its name→fd map in the environment too).</summary>
    public const string FdMappingsVariable = "SANDBOX2_FD_MAPPINGS";

    /// <summary>The descriptor the executor mapped under <paramref name="name"/> (one-shot: the caller owns it): after
    /// <see cref="SandboxMeHere"/>, or — a program sandboxed before exec — from <see cref="FdMappingsVariable"/>.</summary>
    /// <exception cref="InvalidOperationException">No handshake yet and no mappings in the environment.</exception>
    /// <exception cref="KeyNotFoundException">Nothing was mapped under that name (or it was taken already).</exception>
    public SafeFileHandle GetMappedFd(string name)
    {
        if (!_handshakeDone && !LoadEnvironmentMappings())
            throw new InvalidOperationException("GetMappedFd: mapped descriptors arrive with SandboxMeHere(); call it first");
        if (!_mappedFds.Remove(name, out var fd))
            throw new KeyNotFoundException($"GetMappedFd: no descriptor named \"{name}\" was mapped (or it was already taken)");
        return fd;
    }

    /// <summary>True if a descriptor is mapped under <paramref name="name"/> and not taken yet.</summary>
    public bool HasMappedFd(string name)
    {
        if (!_handshakeDone) LoadEnvironmentMappings();
        return _mappedFds.ContainsKey(name);
    }

    bool _environmentLoaded;

    /// <summary>Reads <see cref="FdMappingsVariable"/> once; false when it is not set. A malformed entry is skipped.</summary>
    bool LoadEnvironmentMappings()
    {
        string? env = Environment.GetEnvironmentVariable(FdMappingsVariable);
        if (env is null) return false;
        if (_environmentLoaded) return true;
        _environmentLoaded = true;
        foreach (var entry in env.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = entry.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int fd)) continue;
            string name;
            try { name = Uri.UnescapeDataString(entry[..colon]); }
            catch (UriFormatException) { continue; }
            if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal) || _mappedFds.ContainsKey(name)) continue;
            _mappedFds[name] = new SafeFileHandle(fd, ownsHandle: true);
        }
        return true;
    }

    /// <summary>Receives the policy and installs it on all threads. Throws <see cref="SandboxMeHereException"/> (after telling the executor) when it cannot.</summary>
    public void SandboxMeHere()
    {
        if (_handshakeDone) throw new InvalidOperationException("SandboxMeHere was already called");
        _handshakeDone = true;

        byte[] bpf;
        uint mode;
        try
        {
            Span<byte> version = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(version, SandboxMeHereProtocol.Version);
            Comms.SendTlv(CommsTag.Version, version);
            var reply = Comms.ReceiveTlv();
            if (reply.Tag != CommsTag.Version || reply.Value.Length != 4)
                Fail($"SandboxMeHere: the executor did not answer with its protocol version (got {CommsTag.Name(reply.Tag)})");
            uint theirs = BinaryPrimitives.ReadUInt32LittleEndian(reply.Value);
            if (theirs != SandboxMeHereProtocol.Version)
                Fail($"SandboxMeHere: the executor speaks protocol version {theirs}, this client {SandboxMeHereProtocol.Version}");

            uint count = Comms.ReceiveUint32();
            if (count > SandboxMeHereProtocol.MaxMappedFds)
                Fail($"SandboxMeHere: the executor announced {count} mapped descriptors (at most {SandboxMeHereProtocol.MaxMappedFds})");
            for (uint i = 0; i < count; i++)
            {
                int target = Comms.ReceiveInt32();
                string name = Comms.ReceiveString();
                var fd = Comms.ReceiveFd();
                MapFd(fd, target, name);
            }
            string cwd = Comms.ReceiveString();
            bpf = Comms.ReceiveBytes();
            mode = Comms.ReceiveUint32();
            if (cwd.Length > 0 && Interop.ChDir(cwd) != 0)
                Fail($"SandboxMeHere: chdir(\"{cwd}\"): {Interop.StrError(Marshal.GetLastPInvokeError())}");
        }
        catch (CommsException e)
        {
            throw new SandboxMeHereException($"SandboxMeHere: handshake with the executor failed: {e.Message}");
        }

        if (bpf.Length == 0 || bpf.Length % 8 != 0 || bpf.Length / 8 > SandboxMeHereProtocol.MaxBpfInstructions)
            Fail($"SandboxMeHere: bad BPF program of {bpf.Length} bytes (need 1..{SandboxMeHereProtocol.MaxBpfInstructions} instructions of 8 bytes)");
        bool listener = (mode & SandboxMeHereProtocol.ModeMask) switch
        {
            SandboxMeHereProtocol.ModeUnotify => true,
            SandboxMeHereProtocol.ModePlain => false,
            _ => Fail<bool>($"SandboxMeHere: unknown mode word 0x{mode:X8}"),
        };
        if ((mode & ~SandboxMeHereProtocol.ModeMask & ~SandboxMeHereProtocol.SpeculationBit) != 0)
            Fail($"SandboxMeHere: unknown flags in the mode word 0x{mode:X8}");
        bool speculation = (mode & SandboxMeHereProtocol.SpeculationBit) != 0;

        SafeFileHandle? listenerFd = Install(bpf, listener, speculation);
        try
        {
            Comms.SendBool(true);
            if (listenerFd is not null) Comms.SendFd(listenerFd);
            Comms.SendUint32(SandboxMeHereProtocol.ClientReady);
        }
        finally
        {
            listenerFd?.Dispose();
        }
        IsSandboxed = true;
    }

    void MapFd(SafeFileHandle fd, int target, string name)
    {
        if (target >= 0)
        {
            if (target == (int)Comms.Handle.DangerousGetHandle())
            {
                fd.Dispose();
                Fail($"SandboxMeHere: the executor mapped a descriptor over the Comms descriptor {target}");
            }
            int raw = (int)fd.DangerousGetHandle();
            if (raw != target)
            {
                if (Interop.Dup3(raw, target, 0) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    fd.Dispose();
                    Fail($"SandboxMeHere: dup3 onto descriptor {target}: {Interop.StrError(errno)}");
                }
                fd.Dispose();
                fd = new SafeFileHandle(target, ownsHandle: true);
            }
        }
        else if (target != SandboxMeHereProtocol.NoTarget || name.Length == 0)
        {
            fd.Dispose();
            Fail($"SandboxMeHere: bad descriptor mapping (target {target}, name \"{name}\")");
        }
        if (name.Length == 0) return; // mapped at a number only: the program uses the number
        if (!_mappedFds.TryAdd(name, fd))
        {
            fd.Dispose();
            Fail($"SandboxMeHere: descriptor name \"{name}\" mapped twice");
        }
    }

    static unsafe long Seccomp(uint flags, ReadOnlySpan<byte> bpf, out int errno)
    {
        fixed (byte* p = bpf)
        {
            var prog = new Interop.SockFprog { Length = (ushort)(bpf.Length / 8), Filter = p };
            long r = Interop.Syscall3(Interop.SYS_seccomp, Interop.SECCOMP_SET_MODE_FILTER, flags, &prog);
            errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
            return r;
        }
    }

    SafeFileHandle? Install(byte[] bpf, bool listener, bool speculation)
    {
        if (Interop.Prctl(Interop.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            Fail($"SandboxMeHere: prctl(PR_SET_NO_NEW_PRIVS): {Interop.StrError(Marshal.GetLastPInvokeError())}");

        uint sync = Interop.SECCOMP_FILTER_FLAG_TSYNC | (listener ? Interop.SECCOMP_FILTER_FLAG_TSYNC_ESRCH : 0);
        uint spec = speculation ? Interop.SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0;
        uint flags = sync | spec | (listener ? Interop.SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
        long r;
        int errno;
        if (Environment.GetEnvironmentVariable(NoTsyncTestVariable) == "1")
        {
            r = -1; // simulate a kernel without TSYNC
            errno = Interop.EINVAL;
        }
        else
        {
            r = Seccomp(flags, bpf, out errno);
        }

        if (r < 0 && errno == Interop.EINVAL && speculation && !KnowsSpecAllow())
            Fail("SandboxMeHere refused: the policy allows speculation (AllowSeccompSpeculation()), but this kernel has no " +
                 "SECCOMP_FILTER_FLAG_SPEC_ALLOW (seccomp failed with EINVAL; the flag is in Linux 4.17 and later); no filter was installed");
        if (r < 0 && errno == Interop.EINVAL)
        {
            // No TSYNC (or a filter the kernel rejects). One thread: the flag is not needed. More: refuse.
            var others = OtherThreads();
            if (others.Count > 0)
            {
                var (tid, name) = others[0];
                string more = others.Count > 1 ? $" (and {others.Count - 1} more)" : "";
                Fail($"SandboxMeHere refused: this kernel has no seccomp TSYNC (seccomp(SECCOMP_FILTER_FLAG_TSYNC) failed with EINVAL; " +
                     $"TSYNC is in Linux 3.17 and later, with a listener TSYNC_ESRCH in Linux 5.7 and later) and the process has {others.Count + 1} threads; " +
                     $"thread {tid} \"{name}\"{more} could not be synchronised, and filtering only the calling thread would leave the others unsandboxed; see 'sandbox2 doctor'", tid, name);
            }
            r = Seccomp(flags & ~sync, bpf, out errno);
        }
        if (r < 0 && errno == Interop.ESRCH)
        {
            // TSYNC_ESRCH (used with NEW_LISTENER) hides which thread failed: ask again with an
            // allow-all filter and TSYNC alone, which fails the same way and returns the thread id
            // (nothing is installed when it fails; if it succeeds an allow-all layer is harmless).
            byte[] allowAll = [0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f];
            long t = Seccomp(Interop.SECCOMP_FILTER_FLAG_TSYNC, allowAll, out _);
            if (t > 0) FailThread((int)t);
            Fail("SandboxMeHere refused: seccomp(TSYNC) failed with ESRCH: a thread could not be synchronised");
        }
        if (r < 0)
            Fail($"SandboxMeHere: seccomp(SECCOMP_SET_MODE_FILTER): {Interop.StrError(errno)}");
        if (!listener)
        {
            if (r > 0) FailThread((int)r);
            return null;
        }
        return new SafeFileHandle((nint)r, ownsHandle: true);
    }

    /// <summary>Whether the kernel knows SECCOMP_FILTER_FLAG_SPEC_ALLOW: with a NULL program it answers EFAULT, not EINVAL
    /// (nothing is installed either way).</summary>
    static unsafe bool KnowsSpecAllow() =>
        Interop.Syscall3(Interop.SYS_seccomp, Interop.SECCOMP_SET_MODE_FILTER, Interop.SECCOMP_FILTER_FLAG_SPEC_ALLOW, null) >= 0
        || Marshal.GetLastPInvokeError() != Interop.EINVAL;

    void FailThread(int tid)
    {
        string name = ThreadName(tid);
        Fail($"SandboxMeHere refused: thread {tid} \"{name}\" could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC failed: it has a seccomp filter of its own); no filter was installed", tid, name);
    }

    /// <summary>Other threads of this process, by tid, with their names.</summary>
    static List<(int Tid, string Name)> OtherThreads()
    {
        int self = Interop.GetTid();
        var result = new List<(int, string)>();
        foreach (string dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid) || tid == self) continue;
            result.Add((tid, ThreadName(tid)));
        }
        result.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    static string ThreadName(int tid)
    {
        try { return File.ReadAllText($"/proc/self/task/{tid}/comm").TrimEnd('\n'); }
        catch (IOException) { return "?"; }
        catch (UnauthorizedAccessException) { return "?"; }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    void Fail(string reason, int? tid = null, string? name = null) => Fail<int>(reason, tid, name);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    T Fail<T>(string reason, int? tid = null, string? name = null)
    {
        try
        {
            Comms.SendBool(false);
            Comms.SendString(reason);
        }
        catch (CommsException) { }
        throw new SandboxMeHereException(reason, tid, name);
    }

    /// <summary>Closes the mapped descriptors not taken and the Comms channel.</summary>
    public void Dispose()
    {
        foreach (var fd in _mappedFds.Values) fd.Dispose();
        _mappedFds.Clear();
        Comms.Dispose();
    }
}
