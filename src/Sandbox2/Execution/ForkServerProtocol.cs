using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Sandbox2;

/// <summary>
/// The wire protocol between <see cref="ForkServer"/> and native/forkserver.c (the C file documents the same).
/// All integers are little-endian.
/// <para>Request (one SEQPACKET datagram): u32 magic 0x53324653, u32 version 2, then records
/// <c>{ u32 tag, u32 length, value }</c>; strings are NUL-terminated inside the value.
/// Tags: 1 CLONE_FLAGS u64; 2 IDS u32 inside uid, inside gid, outside uid, outside gid; 3 HOSTNAME str;
/// 4 LOOPBACK (empty); 5 MOUNT u32 kind, u32 MOUNT_ATTR_* flags, str target, str source, str options;
/// 6 RLIMIT u32 resource, u64 soft, u64 hard; 7 CWD str; 8 ARG str (repeated); 9 ENV str (repeated);
/// 10 FD u32 target (repeated); 11 BPF sock_filter[]; 12 NONCE u64; 13 OPTIONS u32 (bit 0 listener,
/// bit 1 filter before exec, bit 2 init unshares its cgroup namespace once placed); 14 LANDLOCK u64 handled fs rights,
/// u64 handled net rights, u64 scopes; 15 LANDLOCK_PATH u64 allowed rights, str path (repeated); 16 CGROUP u32 mode
/// (repeated; 1 clone3 CLONE_INTO_CGROUP with the fd, 2 write init's pid to the fd); 20 BIND_ID u64 st_dev, u64 st_ino of
/// the preceding MOUNT (a bind: its source must be that file); 21 LANDLOCK_ID u64 st_dev, u64 st_ino of the preceding
/// LANDLOCK_PATH (opened without following symlinks, must be that file). A bind source is always opened under the host
/// root without following any symlink. Without CLONE_NEWUSER init takes
/// the IDS itself. SCM_RIGHTS: program fd, status channel, one source per FD record, then one fd per CGROUP record.</para>
/// <para>Reply: <c>{ i32 errno, i32 init pid, u32 step, char detail[] }</c> + SCM_RIGHTS init pidfd when errno is 0.</para>
/// <para>Status channel records: 1 SETUP_ERROR <c>{ u32 type, i32 errno, u32 step, char detail[] }</c> (step: <see cref="SetupStep"/>);
/// 2 LISTENER <c>{ u32 type }</c> + SCM_RIGHTS seccomp listener;
/// 3 EXIT <c>{ u32 type, i32 si_code, i32 si_status, u32 0, i64 utime_us, i64 stime_us, i64 maxrss_kb }</c>;
/// with a 33 TRACE record (u64 signal mask, u32 flags (bit 0: hold a normal exit), u32 hold ms): 5 TRACED
/// <c>{ u32 type, i32 errno }</c> + SCM_RIGHTS pidfd of PID 2, and 4 STOPPED <c>{ u32 type, u32 kind, i32 status, u32 0,
/// u64 user_regs_struct[27] }</c>; the executor writes <c>{ u32 request }</c> (1 release, 2 stop and report) back
/// (see <see cref="InitTracer"/> and native/trace.c).
/// EOF when init has exited.</para>
/// </summary>
internal static class ForkServerProtocol
{
    internal const uint Magic = 0x53324653;
    internal const uint Version = 2;
    internal const int MaxFds = 64;
    /// <summary>No cap of its own: every string record takes at least 9 bytes, so the request size bounds the count
    /// (the kernel's execve limit, checked first by <see cref="ExecArguments"/>, is lower still).</summary>
    internal const int MaxStrings = MaxRequestBytes / 8;
    internal const int MaxMounts = 1024;
    internal const int MaxRlimits = 32;
    internal const int MaxRequestBytes = 4 << 20;

    private enum Tag : uint
    {
        CloneFlags = 1, Ids, Hostname, Loopback, Mount, Rlimit, Cwd, Arg, Env, Fd, Bpf, Nonce, Options, Landlock, LandlockPath, Cgroup,
        BindIdentity = 20, LandlockIdentity = 21,
        RootWritable = 28, SpecAllow = 29, LandlockProgram = 30, SharedNetNs = 31,
        Nice = 32,
        Trace = 33,
    }

    internal const uint OptionListener = 1, OptionFilter = 2, OptionCgroupNamespace = 4;
    internal const int MaxCgroups = 8;
    internal const uint CgroupInto = 1, CgroupProcs = 2;

    internal const int RecordSetupError = 1, RecordListener = 2, RecordExit = 3, RecordStopped = 4, RecordTraced = 5;
    internal const int CldExited = 1, CldKilled = 2, CldDumped = 3;

    /// <summary>clone(2) namespace flags for <paramref name="ns"/>.</summary>
    internal static ulong CloneFlags(PlanNamespaces ns)
    {
        ulong f = 0;
        if (ns.HasFlag(PlanNamespaces.User)) f |= 0x10000000;
        if (ns.HasFlag(PlanNamespaces.Pid)) f |= 0x20000000;
        if (ns.HasFlag(PlanNamespaces.Mount)) f |= 0x00020000;
        if (ns.HasFlag(PlanNamespaces.Net)) f |= 0x40000000;
        if (ns.HasFlag(PlanNamespaces.Ipc)) f |= 0x08000000;
        if (ns.HasFlag(PlanNamespaces.Uts)) f |= 0x04000000;
        if (ns.HasFlag(PlanNamespaces.Cgroup)) f |= 0x02000000;
        return f;
    }

    /// <summary>MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC (equal to MS_RDONLY/NOSUID/NODEV/NOEXEC).</summary>
    internal static uint MountAttrs(MountFlags flags)
    {
        uint a = 0;
        if (flags.HasFlag(MountFlags.ReadOnly)) a |= 0x1;
        if (flags.HasFlag(MountFlags.NoSuid)) a |= 0x2;
        if (flags.HasFlag(MountFlags.NoDev)) a |= 0x4;
        if (flags.HasFlag(MountFlags.NoExec)) a |= 0x8;
        return a;
    }

    /// <summary>Serialises and checks a plan. Throws <see cref="ArgumentException"/> naming the problem.</summary>
    internal static byte[] Serialize(SandboxPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Argv.Count == 0) throw new ArgumentException("plan has no argv (argv[0] is required)", nameof(plan));
        if (plan.Argv.Count > MaxStrings || plan.Environment.Count > MaxStrings)
            throw new ArgumentException($"plan has {plan.Argv.Count} argv and {plan.Environment.Count} environment entries; at most {MaxStrings} each", nameof(plan));
        if (plan.Mounts.Count > MaxMounts) throw new ArgumentException($"plan has {plan.Mounts.Count} mount operations; at most {MaxMounts}", nameof(plan));
        if (plan.Rlimits.Count > MaxRlimits) throw new ArgumentException($"plan has {plan.Rlimits.Count} rlimits; at most {MaxRlimits}", nameof(plan));
        if (plan.Fds.Count > MaxFds) throw new ArgumentException($"plan maps {plan.Fds.Count} fds; at most {MaxFds}", nameof(plan));
        if (plan.Bpf.Length % 8 != 0 || plan.Bpf.Length / 8 > Interop.BpfMaxInstructions)
            throw new ArgumentException($"BPF program of {plan.Bpf.Length} bytes is not 1..{Interop.BpfMaxInstructions} instructions of 8 bytes", nameof(plan));
        var seen = new HashSet<int>();
        foreach (var m in plan.Fds)
        {
            if (m.TargetFd < 0 || m.TargetFd > 65535) throw new ArgumentException($"fd target {m.TargetFd} is out of range", nameof(plan));
            if (!seen.Add(m.TargetFd)) throw new ArgumentException($"fd target {m.TargetFd} is mapped twice", nameof(plan));
            if (m.Source is null || m.Source.IsInvalid || m.Source.IsClosed) throw new ArgumentException($"fd target {m.TargetFd} has no open source", nameof(plan));
        }
        if (plan.ProgramFd is null || plan.ProgramFd.IsInvalid || plan.ProgramFd.IsClosed) throw new ArgumentException("plan has no open program fd", nameof(plan));

        var w = new Writer();
        w.U32(Magic);
        w.U32(Version);
        if (plan.Cgroups.Count > MaxCgroups) throw new ArgumentException($"plan has {plan.Cgroups.Count} cgroup placements; at most {MaxCgroups}", nameof(plan));
        ulong cloneFlags = CloneFlags(plan.Namespaces);
        if (plan.UnshareCgroupNamespace) cloneFlags &= ~0x02000000UL; // CLONE_NEWCGROUP: init makes it once placed
        w.Record(Tag.CloneFlags, 8).U64(cloneFlags);
        w.Record(Tag.Ids, 16).U32(plan.InsideUid).U32(plan.InsideGid).U32(plan.OutsideUid).U32(plan.OutsideGid);
        w.String(Tag.Hostname, plan.Hostname, "hostname");
        if (plan.LoopbackUp) w.Record(Tag.Loopback, 0);
        foreach (var m in plan.Mounts)
        {
            if (!m.Target.StartsWith('/')) throw new ArgumentException($"mount target '{m.Target}' is not absolute", nameof(plan));
            if ((m.Kind is MountOpKind.Bind or MountOpKind.Symlink) && string.IsNullOrEmpty(m.Source))
                throw new ArgumentException($"{m.Kind} mount at '{m.Target}' has no source", nameof(plan));
            byte[] t = Utf8Z(m.Target, "mount target"), s = Utf8Z(m.Source ?? "", "mount source"), o = Utf8Z(m.Options ?? "", "mount options");
            w.Record(Tag.Mount, 8 + t.Length + s.Length + o.Length).U32((uint)m.Kind).U32(MountAttrs(m.Flags)).Bytes(t).Bytes(s).Bytes(o);
            if (m.SourceIdentity is { } id)
            {
                if (m.Kind != MountOpKind.Bind) throw new ArgumentException($"{m.Kind} mount at '{m.Target}' has a source identity", nameof(plan));
                w.Record(Tag.BindIdentity, 16).U64(id.Dev).U64(id.Ino);
            }
        }
        foreach (var r in plan.Rlimits) w.Record(Tag.Rlimit, 20).U32((uint)r.Resource).U64(r.Soft).U64(r.Hard);
        if (plan.Nice is int nice)
        {
            if (nice is < -20 or > 19) throw new ArgumentException($"plan niceness {nice} is outside -20..19", nameof(plan));
            w.Record(Tag.Nice, 4).U32((uint)nice);
        }
        w.String(Tag.Cwd, plan.Cwd, "cwd");
        foreach (var a in plan.Argv) w.String(Tag.Arg, a, "argv entry");
        foreach (var e in plan.Environment) w.String(Tag.Env, e, "environment entry");
        foreach (var m in plan.Fds) w.Record(Tag.Fd, 4).U32((uint)m.TargetFd);
        if (plan.Bpf.Length > 0) w.Record(Tag.Bpf, plan.Bpf.Length).Bytes(plan.Bpf);
        w.Record(Tag.Nonce, 8).U64(plan.ExecNonce);
        foreach (var c in plan.Cgroups) w.Record(Tag.Cgroup, 4).U32(c.CloneInto ? CgroupInto : CgroupProcs);
        uint options = (plan.NotifyListener ? OptionListener : 0) | (plan.SandboxBeforeExec ? OptionFilter : 0)
            | (plan.UnshareCgroupNamespace && plan.Namespaces.HasFlag(PlanNamespaces.Cgroup) ? OptionCgroupNamespace : 0);
        w.Record(Tag.Options, 4).U32(options);
        if (plan.Landlock is { } ll)
        {
            if (ll.Rules.Count > MaxMounts + 1) throw new ArgumentException($"plan has {ll.Rules.Count} Landlock rules; at most {MaxMounts + 1}", nameof(plan));
            w.Record(Tag.Landlock, 24).U64(ll.HandledFs).U64(ll.HandledNet).U64(ll.Scoped);
            foreach (var r in ll.Rules)
            {
                byte[] p = Utf8Z(r.Path, "Landlock path");
                w.Record(Tag.LandlockPath, 8 + p.Length).U64(r.Access).Bytes(p);
                if (r.Identity is { } id) w.Record(Tag.LandlockIdentity, 16).U64(id.Dev).U64(id.Ino);
            }
        }
        if (plan.WritableRootSize != 0) w.Record(Tag.RootWritable, 8).U64(plan.WritableRootSize);
        if (plan.SpeculationAllowed) w.Record(Tag.SpecAllow, 0);
        if (plan.LandlockProgramAccess != 0)
        {
            if (plan.Landlock is null) throw new ArgumentException("a Landlock rule for the program needs a Landlock ruleset", nameof(plan));
            w.Record(Tag.LandlockProgram, 8).U64(plan.LandlockProgramAccess);
        }
        if (plan.Trace is { } trace)
        {
            if (trace.HoldMilliseconds is < 1 or > 60_000) throw new ArgumentException($"plan holds a traced thread {trace.HoldMilliseconds} ms; 1..60000", nameof(plan));
            w.Record(Tag.Trace, 16).U64(trace.Signals).U32(trace.OnExit ? 1u : 0u).U32((uint)trace.HoldMilliseconds);
        }
        if (plan.SharedNetworkNamespace)
        {
            if (plan.Namespaces.HasFlag(PlanNamespaces.Net)) throw new ArgumentException("the shared network namespace replaces a new one: the plan must not ask for both", nameof(plan));
            w.Record(Tag.SharedNetNs, 0);
        }
        if (w.Length > MaxRequestBytes) throw new ArgumentException($"plan is {w.Length} bytes; at most {MaxRequestBytes}", nameof(plan));
        return w.ToArray();
    }

    private static byte[] Utf8Z(string s, string what)
    {
        if (s.Contains('\0', StringComparison.Ordinal)) throw new ArgumentException($"{what} contains a NUL character", nameof(s));
        var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        return b;
    }

    private sealed class Writer
    {
        private readonly List<byte> _ms = [];
        public long Length => _ms.Count;
        public byte[] ToArray() => [.. _ms];

        public Writer U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _ms.AddRange(b);
            return this;
        }

        public Writer U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            _ms.AddRange(b);
            return this;
        }

        public Writer Bytes(ReadOnlySpan<byte> b)
        {
            _ms.AddRange(b);
            return this;
        }

        public Writer Record(Tag tag, int length) => U32((uint)tag).U32((uint)length);

        public void String(Tag tag, string s, string what)
        {
            byte[] b = Utf8Z(s, what);
            Record(tag, b.Length).Bytes(b);
        }
    }

    /// <summary>The forkserver's reply to a request.</summary>
    internal readonly record struct Reply(int Errno, int Pid, uint Step, string Message);

    internal static Reply ParseReply(ReadOnlySpan<byte> msg)
    {
        if (msg.Length < 12) throw new ForkServerException($"forkserver sent a short reply ({msg.Length} bytes)");
        return new Reply(BinaryPrimitives.ReadInt32LittleEndian(msg), BinaryPrimitives.ReadInt32LittleEndian(msg[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(msg[8..]), CString(msg[12..]));
    }

    /// <summary>Decodes a SETUP_ERROR record <c>{ u32 type, i32 errno, u32 step, char detail[] }</c>.</summary>
    internal static SetupFailure ParseSetupError(ReadOnlySpan<byte> msg)
    {
        if (msg.Length < 12) return new SetupFailure($"malformed setup-error record ({msg.Length} bytes)", 0, ReasonCode.FailedComms);
        int errno = BinaryPrimitives.ReadInt32LittleEndian(msg[4..]);
        var step = (SetupStep)BinaryPrimitives.ReadUInt32LittleEndian(msg[8..]);
        return SetupFailure.FromNative(step, errno, CString(msg[12..]));
    }

    internal static string CString(ReadOnlySpan<byte> b)
    {
        int z = b.IndexOf((byte)0);
        return Encoding.UTF8.GetString(z < 0 ? b : b[..z]);
    }

    /// <summary>sendmsg with the given descriptors as SCM_RIGHTS. Returns bytes sent or -errno.</summary>
    internal static unsafe long SendWithFds(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> fds)
    {
        int n = fds.Length;
        int controlLength = n == 0 ? 0 : CmsgSpace(n * 4);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        new Span<byte>(control, Math.Max(controlLength, 1)).Clear();
        var refs = new bool[n];
        try
        {
            if (n > 0)
            {
                var h = (Interop.CmsgHdr*)control;
                h->Length = (nuint)(16 + n * 4);
                h->Level = Interop.SOL_SOCKET;
                h->Type = Interop.SCM_RIGHTS;
                int* dst = (int*)(control + 16);
                for (int i = 0; i < n; i++)
                {
                    fds[i].DangerousAddRef(ref refs[i]);
                    dst[i] = (int)fds[i].DangerousGetHandle();
                }
            }
            fixed (byte* p = data)
            {
                var iov = new Interop.IoVec { Base = p, Length = (nuint)data.Length };
                var msg = new Interop.MsgHdr { Iov = &iov, IovLength = 1, Control = n == 0 ? null : control, ControlLength = (nuint)controlLength };
                nint r = Interop.SendMsg(socket, &msg, Interop.MSG_NOSIGNAL);
                return r < 0 ? -Marshal.GetLastPInvokeError() : r;
            }
        }
        finally
        {
            for (int i = 0; i < n; i++)
                if (refs[i]) fds[i].DangerousRelease();
        }
    }

    /// <summary>recvmsg into <paramref name="buffer"/>; received descriptors (CLOEXEC) go to <paramref name="fds"/>.
    /// Returns the byte count (0 = EOF) or -errno. A truncated message is an error (-EMSGSIZE).</summary>
    internal static long ReceiveWithFds(SafeHandle socket, Span<byte> buffer, List<SafeFdHandle> fds, int flags)
    {
        long n = ReceiveWithFds(socket, buffer, fds, flags, out bool fdsLost);
        return fdsLost ? -90 : n; // EMSGSIZE
    }

    /// <summary>As <see cref="ReceiveWithFds(SafeHandle, Span{byte}, List{SafeFdHandle}, int)"/>, but a message whose
    /// descriptors did not all arrive (MSG_CTRUNC: the executor is out of descriptors, EMFILE) is returned with
    /// <paramref name="fdsLost"/> set: the data is there, some descriptors are not.</summary>
    internal static unsafe long ReceiveWithFds(SafeHandle socket, Span<byte> buffer, List<SafeFdHandle> fds, int flags, out bool fdsLost)
    {
        fdsLost = false;
        const int MaxReceivedFds = 8;
        int controlLength = CmsgSpace(MaxReceivedFds * 4);
        byte* control = stackalloc byte[controlLength];
        fixed (byte* p = buffer)
        {
            var iov = new Interop.IoVec { Base = p, Length = (nuint)buffer.Length };
            var msg = new Interop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
            nint r = Interop.RecvMsg(socket, &msg, flags | Interop.MSG_CMSG_CLOEXEC);
            if (r < 0) return -Marshal.GetLastPInvokeError();
            if (msg.ControlLength >= 16)
            {
                var h = (Interop.CmsgHdr*)control;
                if (h->Level == Interop.SOL_SOCKET && h->Type == Interop.SCM_RIGHTS)
                {
                    int count = ((int)h->Length - 16) / 4;
                    for (int i = 0; i < count; i++) fds.Add(new SafeFdHandle(((int*)(control + 16))[i]));
                }
            }
            if ((msg.Flags & Interop.MSG_TRUNC) != 0) return -90; // EMSGSIZE
            fdsLost = (msg.Flags & Interop.MSG_CTRUNC) != 0;
            return r;
        }
    }

    private static int CmsgSpace(int dataLength) => 16 + ((dataLength + 7) & ~7);
}
