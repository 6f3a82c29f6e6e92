using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// Stack traces of a sandboxee thread (Sandbox2's stack_trace): a brief ptrace seize + interrupt to read its
/// registers, then a frame-pointer walk over /proc/tid/mem, symbolized with the ELF symbol tables of the mapped
/// files (read from the host side through /proc/tid/map_files or /proc/tid/root). The first frame of a function
/// without a frame pointer (a libc syscall wrapper) is recovered by scanning for a return address.
/// Must be called on one thread for the whole seize…detach (ptrace is per tracer thread): the monitor's loop.
/// </summary>
internal static class StackTrace
{
    public const int MaxFrames = 64;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>Seize, interrupt and read thread <paramref name="tid"/>, then detach it. Never throws; failures give one
    /// "(no stack trace: …)" line.</summary>
    public static IReadOnlyList<string> Collect(int tid)
    {
        if (Interop.Ptrace(Interop.PTRACE_SEIZE, tid, 0, 0) != 0)
            return [$"(no stack trace: ptrace(PTRACE_SEIZE, {tid}) failed: {Errno()})"];
        bool stopped = false;
        try
        {
            if (Interop.Ptrace(Interop.PTRACE_INTERRUPT, tid, 0, 0) != 0)
                return [$"(no stack trace: PTRACE_INTERRUPT failed: {Errno()})"];
            long deadline = Environment.TickCount64 + (long)StopTimeout.TotalMilliseconds;
            var spin = new SpinWait();
            while (true)
            {
                int r = Interop.PtraceWaitPid(tid, out int status, Interop.__WALL | Interop.WNOHANG);
                if (r == tid)
                {
                    if ((status & 0xff) == 0x7f) { stopped = true; break; } // WIFSTOPPED
                    return ["(no stack trace: the thread exited)"];
                }
                if (r < 0) return [$"(no stack trace: waitpid failed: {Errno()})"];
                if (Environment.TickCount64 > deadline) return ["(no stack trace: the thread did not stop)"];
                spin.SpinOnce(sleep1Threshold: -1);
            }
            if (Interop.PtraceGetRegs(Interop.PTRACE_GETREGS, tid, 0, out var regs) != 0)
                return [$"(no stack trace: PTRACE_GETREGS failed: {Errno()})"];
            return Walk(tid, regs.Rip, regs.Rsp, regs.Rbp);
        }
        finally
        {
            // A thread that did not stop (or died) cannot be detached now. It stays our tracee until it stops or
            // dies, and a dead tracee must be waited for by its tracer before its parent (init) can reap it.
            if (!stopped || Interop.Ptrace(Interop.PTRACE_DETACH, tid, 0, 0) != 0) PendingTracees.Add(tid);
        }
    }

    /// <summary>Seized threads not yet detached or reaped (loop thread only; see <see cref="ReapPendingTracees"/>).</summary>
    internal static readonly List<int> PendingTracees = [];

    /// <summary>Detach pending tracees that have stopped, wait for those that died. On the loop thread.</summary>
    internal static void ReapPendingTracees()
    {
        for (int i = PendingTracees.Count - 1; i >= 0; i--)
        {
            int tid = PendingTracees[i];
            int r = Interop.PtraceWaitPid(tid, out int status, Interop.__WALL | Interop.WNOHANG);
            if (r == 0) continue; // still running (and still ours): it is about to be killed
            if (r == tid && (status & 0xff) == 0x7f && Interop.Ptrace(Interop.PTRACE_DETACH, tid, 0, 0) != 0) continue;
            PendingTracees.RemoveAt(i); // detached, exited (now reaped by us, so its parent can reap it), or not ours
        }
    }

    /// <summary>The host pid of the sandboxee (PID 2 of the pid namespace whose init is <paramref name="initPid"/>), or null.</summary>
    public static int? FindSandboxee(int initPid)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == initPid) continue;
            try
            {
                string? ppid = null, nspid = null;
                foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                {
                    if (line.StartsWith("PPid:", StringComparison.Ordinal)) ppid = line[5..].Trim();
                    else if (line.StartsWith("NSpid:", StringComparison.Ordinal)) { nspid = line[6..]; break; }
                }
                if (ppid != initPid.ToString(CultureInfo.InvariantCulture) || nspid is null) continue;
                var ids = nspid.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries);
                if (ids.Length > 1 && ids[^1] == "2") return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return null;
    }

    /// <summary>Unwind and symbolize from the given registers, reading the thread's memory and maps: .eh_frame CFI
    /// where the mapped file has it, else the frame-pointer chain (and, for a frameless frame 0, the first return
    /// address on the stack).</summary>
    internal static IReadOnlyList<string> Walk(int tid, ulong rip, ulong rsp, ulong rbp)
    {
        var maps = Mapping.Read(tid);
        using var mem = File.OpenHandle($"/proc/{tid}/mem", FileMode.Open, FileAccess.Read);
        var reader = new MemoryReader(mem);
        var frames = new List<ulong>();
        ulong pc = rip, sp = rsp, fp = rbp;
        for (int i = 0; i < MaxFrames; i++)
        {
            frames.Add(pc);
            ulong lookup = i == 0 ? pc : pc - 1;
            ulong cfa, ra, nextFp = fp;
            if (FindRow(tid, maps, lookup) is { } row)
            {
                if (row.RaUndefined || row.RaOffset is not long raOffset) break; // the outermost frame (_start)
                cfa = (row.CfaRegister == 7 ? sp : fp) + (ulong)row.CfaOffset;
                if (!reader.TryReadU64(cfa + (ulong)raOffset, out ra)) break;
                if (row.RbpOffset is long rbpOffset && !reader.TryReadU64(cfa + (ulong)rbpOffset, out nextFp)) break;
            }
            else if (i == 0 && ScanForReturn(sp, fp, maps, reader) is (ulong at, ulong found))
            {
                // A frameless leaf without CFI (hand-written syscall wrappers): its return address is on the stack top.
                cfa = at + 8;
                ra = found;
            }
            else
            {
                if (fp == 0 || (fp & 7) != 0 || fp < sp) break;
                if (!reader.TryReadU64(fp, out nextFp) || !reader.TryReadU64(fp + 8, out ra)) break;
                cfa = fp + 16;
            }
            if (ra == 0 || cfa <= sp || Mapping.Find(maps, ra) is not { Executable: true }) break;
            pc = ra;
            sp = cfa;
            fp = nextFp;
        }

        var lines = new List<string>(frames.Count);
        for (int i = 0; i < frames.Count; i++)
            lines.Add(Format(i, frames[i], i == 0 ? frames[i] : frames[i] - 1, tid, maps));
        return lines;
    }

    /// <summary>The first plausible return address between sp and the frame pointer, unless it is the frame's own.</summary>
    private static (ulong At, ulong Value)? ScanForReturn(ulong sp, ulong fp, List<Mapping> maps, MemoryReader reader)
    {
        ulong scanEnd = fp > sp && fp - sp < 64 * 1024 ? fp : sp + 512;
        ulong fpReturn = fp != 0 && reader.TryReadU64(fp + 8, out ulong fr) ? fr : 0;
        for (ulong p = sp; p < scanEnd && p < sp + 4096; p += 8)
        {
            if (!reader.TryReadU64(p, out ulong candidate)) return null;
            if (IsReturnAddress(candidate, maps, reader)) return candidate == fpReturn ? null : (p, candidate);
        }
        return null;
    }

    private static EhFrame.Row? FindRow(int tid, List<Mapping> maps, ulong address)
    {
        var m = Mapping.Find(maps, address);
        if (m is null || m.Path.Length == 0 || m.Path[0] != '/') return null;
        var table = ElfSymbolTable.Load(m.Path + "|" + m.DevInode, m.HostPaths(tid));
        if (table?.EhFrame is not { } eh || table.FileOffsetToVAddr(address - m.Start + m.Offset) is not ulong vaddr) return null;
        return eh.Find(vaddr);
    }

    /// <summary><c>#i 0x0000000000401136 main+0x16 (/path/binary)</c>; <paramref name="lookup"/> is the address used
    /// for the symbol (a return address minus one, so a call at a function's end names that function).</summary>
    private static string Format(int index, ulong address, ulong lookup, int tid, List<Mapping> maps)
    {
        string prefix = string.Create(CultureInfo.InvariantCulture, $"#{index} 0x{address:x16}");
        var m = Mapping.Find(maps, lookup);
        if (m is null) return prefix + " ??";
        ulong fileOffset = lookup - m.Start + m.Offset;
        string where = m.Path.Length > 0 ? m.Path : "?";
        if (m.Path.Length == 0 || m.Path[0] != '/')
            return prefix + " ?? (" + where + ")";
        var table = ElfSymbolTable.Load(m.Path + "|" + m.DevInode, m.HostPaths(tid));
        if (table?.FileOffsetToVAddr(fileOffset) is ulong vaddr && table.Lookup(vaddr) is var (name, off))
        {
            ulong shown = off + (address - lookup);
            return string.Create(CultureInfo.InvariantCulture, $"{prefix} {name}+0x{shown:x} ({where})");
        }
        return string.Create(CultureInfo.InvariantCulture, $"{prefix} ?? ({where}+0x{fileOffset + (address - lookup):x})");
    }

    /// <summary>Does <paramref name="value"/> point into executable memory right after a call instruction?</summary>
    private static bool IsReturnAddress(ulong value, List<Mapping> maps, MemoryReader reader)
    {
        if (value < 8 || Mapping.Find(maps, value) is not { Executable: true } m || value - 7 < m.Start) return false;
        Span<byte> b = stackalloc byte[7];
        if (!reader.TryRead(value - 7, b)) return false;
        // b[6] = value-1 ... b[0] = value-7
        return b[2] == 0xE8                                   // call rel32
            || (b[1] == 0xFF && (b[2] & 0x38) == 0x10)          // call *disp32(...) / call *disp(%rip)
            || (b[4] == 0xFF && (b[5] & 0x38) == 0x10)          // call *disp8(%reg)
            || (b[5] == 0xFF && (b[6] & 0x38) == 0x10 && (b[6] & 0xC0) == 0xC0); // call *%reg
    }

    private static string Errno() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    private readonly struct MemoryReader(SafeFileHandle mem)
    {
        public bool TryRead(ulong address, Span<byte> buffer)
        {
            if (address > long.MaxValue) return false;
            try { return RandomAccess.Read(mem, buffer, (long)address) == buffer.Length; }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return false; }
        }

        public bool TryReadU64(ulong address, out ulong value)
        {
            Span<byte> b = stackalloc byte[8];
            value = 0;
            if (!TryRead(address, b)) return false;
            value = BitConverter.ToUInt64(b);
            return true;
        }
    }

    /// <summary>One line of /proc/tid/maps.</summary>
    internal sealed record Mapping(ulong Start, ulong End, bool Executable, ulong Offset, string DevInode, string Path)
    {
        public static List<Mapping> Read(int tid)
        {
            var list = new List<Mapping>();
            foreach (var line in File.ReadLines($"/proc/{tid}/maps"))
            {
                // start-end perms offset dev inode [path]
                var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 5) continue;
                int dash = parts[0].IndexOf('-', StringComparison.Ordinal);
                if (dash < 0) continue;
                list.Add(new Mapping(
                    ulong.Parse(parts[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    ulong.Parse(parts[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    parts[1].Length > 2 && parts[1][2] == 'x',
                    ulong.Parse(parts[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    parts[3] + ":" + parts[4],
                    parts.Length > 5 ? parts[5].Trim() : ""));
            }
            return list;
        }

        public static Mapping? Find(List<Mapping> maps, ulong address)
        {
            foreach (var m in maps)
                if (address >= m.Start && address < m.End) return m;
            return null;
        }

        /// <summary>Where the executor can open the mapped file: the mapping itself, then the path under the
        /// sandboxee's root (paths in maps are as the sandboxee sees them), then the path as is.</summary>
        public IEnumerable<string> HostPaths(int tid)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"/proc/{tid}/map_files/{Start:x}-{End:x}");
            yield return $"/proc/{tid}/root{Path}";
            yield return Path;
        }
    }
}
