using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// Stack traces of a sandboxee thread (Sandbox2's stack_trace), collected off the monitor's loop thread and within
/// a time budget. Each trace gets its own short-lived tracer thread (ptrace: every call for a tracee must come from
/// the thread that seized it, and a thread that exits releases its tracees, so nothing can stay traced):
/// <list type="number">
/// <item>capture, while the thread is stopped: PTRACE_SEIZE + PTRACE_INTERRUPT, registers, /proc/tid/maps, a copy of
/// the top of the stack; then PTRACE_DETACH;</item>
/// <item>unwind (.eh_frame CFI where the mapped file has it, else the frame-pointer chain) and symbolize, reading
/// only files the kernel hands out through <c>/proc/TID/map_files/START-END</c> (the mapped file itself: no path
/// the sandboxee chose is ever walked), each checked to be a regular file with the mapping's device and inode, read
/// within <see cref="ElfSymbolTable"/>'s caps.</item>
/// </list>
/// A trace that does not finish in its budget is reported as one "(stack trace unavailable: …)" line; the caller
/// never waits longer. As an unprivileged executor the kernel refuses map_files (it needs CAP_SYS_ADMIN or
/// CAP_CHECKPOINT_RESTORE in the initial user namespace): frames are then unwound by frame pointers and shown as
/// <c>?? (path+0xoffset)</c>.
/// </summary>
internal static class StackTrace
{
    public const int MaxFrames = 64;

    /// <summary>Most traces in progress at once (a trace stuck in a slow read holds its slot until it ends).</summary>
    public const int MaxInFlight = 8;

    /// <summary>Most lines of /proc/tid/maps considered, and the most stack bytes copied while the thread is stopped.</summary>
    public const int MaxMappings = 16384, MaxStackBytes = 256 * 1024;

    private static readonly TimeSpan StopTimeout = TimeSpan.FromMilliseconds(250);
    private const int EPERM = 1, EACCES = 13;
    private static int s_inFlight;

    /// <summary>Traces in progress (tests).</summary>
    internal static int InFlight => Volatile.Read(ref s_inFlight);

    /// <summary>The line that stands for a trace that could not be collected.</summary>
    internal static string Unavailable(string why) => "(stack trace unavailable: " + why + ")";

    /// <summary>Collects the stack trace of thread <paramref name="tid"/> on a tracer thread of its own. Completes within
    /// <paramref name="budget"/> (then with one "unavailable" line if the trace is not ready); never throws.</summary>
    public static async Task<IReadOnlyList<string>> CollectAsync(int tid, TimeSpan budget)
    {
        long deadline = Environment.TickCount64 + (long)budget.TotalMilliseconds;
        var result = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!StartTrace(finish =>
            {
                var capture = Capture(tid, deadline, out string? error);
                if (capture is null) finish([Unavailable(error!)]);
                // Not detached (it is dying): this thread's exit releases it; symbolize on another thread meanwhile.
                else if (capture.StillTraced && TryStart("sandbox2-symbolizer", () => finish(Symbolize(capture, deadline)), finish)) { }
                else finish(Symbolize(capture, deadline));
            }, lines => result.TrySetResult(lines)))
            return await result.Task.ConfigureAwait(false);
        try { return await result.Task.WaitAsync(budget).ConfigureAwait(false); }
        catch (TimeoutException) { return [Unavailable($"not collected within its budget of {budget.TotalMilliseconds:0} ms")]; }
    }

    /// <summary>Takes one of the <see cref="MaxInFlight"/> slots and runs <paramref name="body"/> on a tracer thread;
    /// <paramref name="done"/> gets the lines exactly once, when the slot is given back. False (and
    /// <paramref name="done"/> already called) when no slot or no thread was to be had.</summary>
    private static bool StartTrace(Action<Action<IReadOnlyList<string>>> body, Action<IReadOnlyList<string>> done)
    {
        if (Interlocked.Increment(ref s_inFlight) > MaxInFlight)
        {
            Interlocked.Decrement(ref s_inFlight);
            done([Unavailable($"{MaxInFlight} stack traces already in progress")]);
            return false;
        }
        int finished = 0;
        void Finish(IReadOnlyList<string> lines)
        {
            if (Interlocked.Exchange(ref finished, 1) != 0) return;
            Interlocked.Decrement(ref s_inFlight);
            done(lines);
        }
        return TryStart("sandbox2-tracer", () => body(Finish), Finish);
    }

    /// <summary>Runs <paramref name="body"/> on a new background thread; any exception becomes an "unavailable" line given
    /// to <paramref name="finish"/>. False (and <paramref name="finish"/> called) if no thread could be started.</summary>
    private static bool TryStart(string name, Action body, Action<IReadOnlyList<string>> finish)
    {
        try
        {
            new Thread(() =>
            {
                try { body(); }
                catch (Exception e) { finish([Unavailable(e.Message)]); }
            })
            { IsBackground = true, Name = name }.UnsafeStart();
            return true;
        }
        catch (Exception e) when (e is OutOfMemoryException or ThreadStartException)
        {
            finish([Unavailable("cannot start a tracer thread: " + e.Message)]);
            return false;
        }
    }

    private static readonly Lazy<Task> s_warmUp = new(() =>
    {
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled) return Task.CompletedTask; // NativeAOT
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                // Compile the symbolizer's code before the first trace needs it (under load, the JIT alone can take
                // longer than a trace's budget): read this process's own executable and maps.
                long deadline = Environment.TickCount64 + 60_000;
                if (RegularFile.TryOpen("/proc/self/exe", followLast: true, out _) is { } exe)
                {
                    using (exe)
                    {
                        var table = ElfSymbolTable.Read(exe.Handle, exe.Stat.Size, deadline);
                        _ = table.FileOffsetToVAddr(0x1000) is ulong v ? table.Lookup(v) : null;
                        _ = table.EhFrame?.Find(table.FileOffsetToVAddr(0x1000) ?? 0);
                    }
                }
                var maps = Mapping.Read(Environment.ProcessId);
                _ = Symbolize(new Captured(Environment.ProcessId, 0, 0, 0, maps, 0, [], false), deadline);
            }
            catch (Exception) { } // best effort
            finally { done.TrySetResult(); }
        })
        { IsBackground = true, Name = "sandbox2-tracer-warmup", Priority = ThreadPriority.BelowNormal }.UnsafeStart();
        return done.Task;
    });

    /// <summary>Starts (once per process) compiling the tracer's code in the background; completes when done.</summary>
    public static Task WarmUp() => s_warmUp.Value;

    /// <summary>Seize, interrupt and read thread <paramref name="tid"/>, detach it, then unwind and symbolize, all on the
    /// calling thread (tests). Never throws; failures give one "unavailable" line.</summary>
    public static IReadOnlyList<string> Collect(int tid)
    {
        long deadline = Environment.TickCount64 + 10_000;
        var capture = Capture(tid, deadline, out string? error);
        return capture is null ? [Unavailable(error!)] : Symbolize(capture, deadline);
    }

    /// <summary>What was read while the thread was stopped.</summary>
    private sealed record Captured(int Tid, ulong Rip, ulong Rsp, ulong Rbp, List<Mapping> Maps, ulong StackBase, byte[] Stack, bool StillTraced);

    private static Captured? Capture(int tid, long deadline, out string? error)
    {
        error = null;
        if (Interop.Ptrace(Interop.PTRACE_SEIZE, tid, 0, 0) != 0)
        {
            error = $"ptrace(PTRACE_SEIZE, {tid}) failed: {Errno()}";
            return null;
        }
        bool stopped = false, detached = false;
        try
        {
            if (Interop.Ptrace(Interop.PTRACE_INTERRUPT, tid, 0, 0) != 0)
            {
                error = $"PTRACE_INTERRUPT failed: {Errno()}";
                return null;
            }
            long stopBy = Math.Min(deadline, Environment.TickCount64 + (long)StopTimeout.TotalMilliseconds);
            var spin = new SpinWait();
            while (true)
            {
                int r = Interop.PtraceWaitPid(tid, out int status, Interop.__WALL | Interop.WNOHANG);
                if (r == tid)
                {
                    if ((status & 0xff) == 0x7f) { stopped = true; break; } // WIFSTOPPED
                    error = "the thread exited";
                    return null;
                }
                if (r < 0) { error = $"waitpid failed: {Errno()}"; return null; }
                if (Environment.TickCount64 > stopBy) { error = "the thread did not stop"; return null; }
                spin.SpinOnce(sleep1Threshold: -1);
            }
            if (Interop.PtraceGetRegs(Interop.PTRACE_GETREGS, tid, 0, out var regs) != 0)
            {
                error = $"PTRACE_GETREGS failed: {Errno()}";
                return null;
            }
            var held = ReadHeld(tid, regs, out error);
            if (held is null) return null;
            detached = Interop.Ptrace(Interop.PTRACE_DETACH, tid, 0, 0) == 0;
            return held with { StillTraced = !detached };
        }
        finally
        {
            // A thread that did not stop stays our tracee until it stops or dies; this tracer thread exits soon, and
            // the kernel releases every tracee of an exiting tracer (exit_ptrace), so nothing stays traced.
            if (stopped && !detached) Interop.Ptrace(Interop.PTRACE_DETACH, tid, 0, 0);
        }
    }

    /// <summary>Memory map and stack top of a thread that is held stopped (by us, or by the sandbox's init), given its registers.</summary>
    private static Captured? ReadHeld(int tid, in Interop.UserRegs regs, out string? error)
    {
        error = null;
        List<Mapping> maps;
        try { maps = Mapping.Read(tid); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { error = "cannot read its memory map: " + e.Message; return null; }
        byte[] stack = [];
        if (Mapping.Find(maps, regs.Rsp) is { } sm)
        {
            ulong count = Math.Min(sm.End - regs.Rsp, MaxStackBytes);
            stack = new byte[count];
            try
            {
                using var mem = File.OpenHandle($"/proc/{tid}/mem", FileMode.Open, FileAccess.Read);
                int n = RandomAccess.Read(mem, stack, (long)regs.Rsp);
                if (n < stack.Length) Array.Resize(ref stack, Math.Max(n, 0));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { stack = []; }
        }
        return new Captured(tid, regs.Rip, regs.Rsp, regs.Rbp, maps, regs.Rsp, stack, StillTraced: false);
    }

    /// <summary>The trace of thread <paramref name="tid"/>, which someone else (the sandbox's init) holds stopped and whose
    /// registers it gave: read and symbolized on a tracer thread of its own, then <paramref name="done"/> is called on that
    /// thread (so a starved thread pool cannot keep the thread held). Never throws.</summary>
    public static void CollectHeld(int tid, Interop.UserRegs regs, TimeSpan budget, Action<IReadOnlyList<string>> done)
    {
        long deadline = Environment.TickCount64 + (long)budget.TotalMilliseconds;
        StartTrace(finish =>
        {
            var held = ReadHeld(tid, regs, out string? error);
            finish(held is null ? [Unavailable(error!)] : Symbolize(held, deadline));
        }, done);
    }

    /// <summary>The trace of <paramref name="tid"/> (a violating thread, or the sandboxee's main thread): through the
    /// sandbox's init when it traces that thread, else seized by a tracer thread of ours; with
    /// <paramref name="allThreads"/>, then every other thread of its process, each under a <c>Thread N (comm):</c> line,
    /// all within <paramref name="budget"/>. Never throws.</summary>
    public static async Task<IReadOnlyList<string>> CollectAsync(int tid, TimeSpan budget, InitTracer? tracer, bool allThreads)
    {
        long deadline = Environment.TickCount64 + (long)budget.TotalMilliseconds;
        if (!allThreads) return await CollectOneAsync(tid, budget, tracer).ConfigureAwait(false);
        var lines = new List<string> { ThreadHeader(tid) };
        lines.AddRange(await CollectOneAsync(tid, budget, tracer).ConfigureAwait(false));
        int shown = 1;
        foreach (int other in Threads(tid))
        {
            if (other == tid) continue;
            long left = deadline - Environment.TickCount64;
            if (shown == MaxThreads || left <= 0)
            {
                lines.Add(shown == MaxThreads ? $"(more threads not shown: at most {MaxThreads})" : "(more threads not shown: the budget is spent)");
                break;
            }
            lines.Add(ThreadHeader(other));
            lines.AddRange(await CollectOneAsync(other, TimeSpan.FromMilliseconds(left), tracer).ConfigureAwait(false));
            shown++;
        }
        return lines;
    }

    /// <summary>Sandbox2's CompactStackTrace: a run of equal consecutive entries becomes the first and a
    /// <c>(previous frame repeated N times)</c> line.</summary>
    public static List<string> Compact(IReadOnlyList<string> frames)
    {
        var compact = new List<string>(frames.Count);
        for (int i = 0; i < frames.Count;)
        {
            int run = 1;
            while (i + run < frames.Count && frames[i + run] == frames[i]) run++;
            compact.Add(frames[i]);
            if (run > 1) compact.Add(string.Create(CultureInfo.InvariantCulture, $"(previous frame repeated {run - 1} times)"));
            i += run;
        }
        return compact;
    }

    /// <summary>The function names of a trace's frames (<c>main</c> for <c>#2 0x… main+0x29 (/path)</c>, <c>??</c> where
    /// none is known), compacted: what the log shows, as Sandbox2's does.</summary>
    public static List<string> FunctionNames(IReadOnlyList<string> trace)
    {
        var names = new List<string>(trace.Count);
        foreach (var line in trace)
        {
            if (!line.StartsWith('#')) { names.Add(line); continue; } // a thread header or a reason line
            var parts = line.Split(' ', 4);
            string name = parts.Length > 2 ? parts[2] : "??";
            int plus = name.LastIndexOf("+0x", StringComparison.Ordinal);
            names.Add(plus > 0 ? name[..plus] : name);
        }
        return Compact(names);
    }

    /// <summary>Most threads one all-threads trace shows.</summary>
    public const int MaxThreads = 64;

    private static async Task<IReadOnlyList<string>> CollectOneAsync(int tid, TimeSpan budget, InitTracer? tracer)
    {
        if (tracer is not null && await tracer.TracesAsync(tid, budget).ConfigureAwait(false)) return await tracer.CollectAsync(budget).ConfigureAwait(false);
        return await CollectAsync(tid, budget).ConfigureAwait(false);
    }

    /// <summary>The threads of <paramref name="tid"/>'s process (its /proc/TID/task, at most 4 × <see cref="MaxThreads"/> read).</summary>
    private static List<int> Threads(int tid)
    {
        var list = new List<int>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories($"/proc/{tid}/task"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int t)) list.Add(t);
                if (list.Count == 4 * MaxThreads) break;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        list.Sort();
        return list;
    }

    /// <summary><c>Thread 7 (worker):</c>, with the thread's id inside the sandbox's pid namespace where it can be read.</summary>
    private static string ThreadHeader(int tid)
    {
        string id = tid.ToString(CultureInfo.InvariantCulture), comm = "?";
        try
        {
            foreach (var line in File.ReadLines($"/proc/{tid}/status").Take(64))
            {
                if (line.StartsWith("Name:", StringComparison.Ordinal)) comm = line[5..].Trim();
                else if (line.StartsWith("NSpid:", StringComparison.Ordinal))
                {
                    var ids = line[6..].Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries);
                    if (ids.Length > 0) id = ids[^1];
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return $"Thread {id} ({comm}):";
    }

    private static List<string> Symbolize(Captured c, long deadline)
    {
        using var files = new MappedFiles(c.Tid, deadline);
        SafeFileHandle? mem = null;
        try
        {
            ElfSymbolTable.CheckDeadline(deadline);
            try { mem = File.OpenHandle($"/proc/{c.Tid}/mem", FileMode.Open, FileAccess.Read); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            var reader = new MemoryReader(c.StackBase, c.Stack, mem);
            var lines = Walk(c.Rip, c.Rsp, c.Rbp, c.Maps, reader, files);
            if (files.Denied is { } why) lines.Add("(no symbols: " + why + ")");
            return lines;
        }
        catch (TimeoutException e) { return [Unavailable(e.Message)]; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException) { return [Unavailable(e.Message)]; }
        finally { mem?.Dispose(); }
    }

    /// <summary>The host pid of the sandboxee (PID 2 of the pid namespace whose init is <paramref name="initPid"/>), or null.</summary>
    public static int? FindSandboxee(int initPid)
    {
        // init's children first (one small read, however many processes the host runs), else a scan of /proc.
        IEnumerable<string> candidates;
        try
        {
            string children = File.ReadAllText($"/proc/{initPid}/task/{initPid}/children");
            candidates = children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => "/proc/" + c).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { candidates = Directory.EnumerateDirectories("/proc"); }
        foreach (var dir in candidates)
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

    /// <summary>Unwind and symbolize from the given registers: .eh_frame CFI where the mapped file has it, else the
    /// frame-pointer chain (and, for a frameless frame 0, the first return address on the stack).</summary>
    private static List<string> Walk(ulong rip, ulong rsp, ulong rbp, List<Mapping> maps, MemoryReader reader, MappedFiles files)
    {
        var frames = new List<ulong>();
        ulong pc = rip, sp = rsp, fp = rbp;
        for (int i = 0; i < MaxFrames; i++)
        {
            ElfSymbolTable.CheckDeadline(files.Deadline);
            frames.Add(pc);
            ulong lookup = i == 0 ? pc : pc - 1;
            ulong cfa, ra, nextFp = fp;
            if (FindRow(maps, lookup, files) is { } row)
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

        var lines = new List<string>(frames.Count + 1);
        for (int i = 0; i < frames.Count; i++)
            lines.Add(Format(i, frames[i], i == 0 ? frames[i] : frames[i] - 1, maps, files));
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

    private static EhFrame.Row? FindRow(List<Mapping> maps, ulong address, MappedFiles files)
    {
        var m = Mapping.Find(maps, address);
        if (m is null || files.TableFor(m) is not { } table) return null;
        if (table.EhFrame is not { } eh || table.FileOffsetToVAddr(address - m.Start + m.Offset) is not ulong vaddr) return null;
        return eh.Find(vaddr);
    }

    /// <summary><c>#i 0x0000000000401136 main+0x16 (/path/binary)</c>; <paramref name="lookup"/> is the address used
    /// for the symbol (a return address minus one, so a call at a function's end names that function).</summary>
    private static string Format(int index, ulong address, ulong lookup, List<Mapping> maps, MappedFiles files)
    {
        string prefix = string.Create(CultureInfo.InvariantCulture, $"#{index} 0x{address:x16}");
        var m = Mapping.Find(maps, lookup);
        if (m is null) return prefix + " ??";
        ulong fileOffset = lookup - m.Start + m.Offset;
        string where = m.Path.Length > 0 ? m.Path : "?";
        if (m.Path.Length == 0 || m.Path[0] != '/')
            return prefix + " ?? (" + where + ")";
        var table = files.TableFor(m);
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

    /// <summary>The symbol tables of one trace's mappings, opened only through /proc/TID/map_files.</summary>
    private sealed class MappedFiles(int tid, long deadline) : IDisposable
    {
        private readonly Dictionary<ulong, ElfSymbolTable?> _byStart = [];
        public long Deadline { get; } = deadline;
        /// <summary>Why no file could be opened (map_files refused), if so.</summary>
        public string? Denied { get; private set; }

        public ElfSymbolTable? TableFor(Mapping m)
        {
            if (m.Path.Length == 0 || m.Path[0] != '/' || m.Inode == 0 || Denied is not null) return null;
            if (_byStart.TryGetValue(m.Start, out var cached)) return cached;
            ElfSymbolTable? table = null;
            // A kernel magic link to the mapped file itself (no path walk; a FIFO or device cannot be mapped, and
            // RegularFile never open()s anything but a regular file anyway).
            string link = string.Create(CultureInfo.InvariantCulture, $"/proc/{tid}/map_files/{m.Start:x}-{m.End:x}");
            using (var f = RegularFile.TryOpen(link, followLast: true, out _, out int errno))
            {
                if (f is null && errno is EPERM or EACCES)
                    Denied = "the kernel refuses /proc/PID/map_files to an executor without CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE";
                else if (f is not null && m.Matches(f.Stat))
                    table = ElfSymbolTable.Get(f.Handle, f.Stat, Deadline);
            }
            _byStart[m.Start] = table;
            return table;
        }

        public void Dispose() { }
    }

    /// <summary>Reads the captured stack copy, and other memory through /proc/tid/mem.</summary>
    private readonly struct MemoryReader(ulong stackBase, byte[] stack, SafeFileHandle? mem)
    {
        public bool TryRead(ulong address, Span<byte> buffer)
        {
            if (address >= stackBase && address - stackBase <= (ulong)stack.Length && (ulong)stack.Length - (address - stackBase) >= (ulong)buffer.Length)
            {
                stack.AsSpan((int)(address - stackBase), buffer.Length).CopyTo(buffer);
                return true;
            }
            if (mem is null || address > long.MaxValue) return false;
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
    internal sealed record Mapping(ulong Start, ulong End, bool Executable, ulong Offset, uint Major, uint Minor, ulong Inode, string Path)
    {
        /// <summary>At most <see cref="MaxMappings"/> lines.</summary>
        public static List<Mapping> Read(int tid)
        {
            var list = new List<Mapping>();
            foreach (var line in File.ReadLines($"/proc/{tid}/maps"))
            {
                if (list.Count >= MaxMappings) break;
                // start-end perms offset major:minor inode [path]
                var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 5) continue;
                int dash = parts[0].IndexOf('-', StringComparison.Ordinal);
                int colon = parts[3].IndexOf(':', StringComparison.Ordinal);
                if (dash < 0 || colon < 0
                    || !ulong.TryParse(parts[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong start)
                    || !ulong.TryParse(parts[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong end)
                    || !ulong.TryParse(parts[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong offset)
                    || !uint.TryParse(parts[3].AsSpan(0, colon), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint major)
                    || !uint.TryParse(parts[3].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint minor)
                    || !ulong.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode)
                    || end <= start)
                    continue;
                list.Add(new Mapping(start, end, parts[1].Length > 2 && parts[1][2] == 'x', offset, major, minor, inode,
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

        /// <summary>Is <paramref name="st"/> the file this mapping maps (same device and inode)?</summary>
        public bool Matches(in Interop.Stat st)
        {
            uint major = (uint)(((st.Dev >> 8) & 0xfff) | ((st.Dev >> 32) & 0xfffff000UL));
            uint minor = (uint)((st.Dev & 0xff) | ((st.Dev >> 12) & 0xffffff00UL));
            return st.Ino == Inode && major == Major && minor == Minor;
        }
    }
}
