namespace Sandbox2;

/// <summary>
/// Learn mode's <see cref="Notify"/>: every syscall the policy sends to the monitor (<see cref="SyscallAction.Trace"/>) is
/// recorded and allowed to run. Pass it to a <see cref="Sandbox"/> whose policy traces everything
/// (<see cref="CreateTracingPolicy"/>), then read <see cref="GetTrace"/> and turn it into a policy with <see cref="PolicyLearner"/>.
/// </summary>
/// <remarks>The monitor serves it on its event loop without a thread hop (an unconditional trace rule is recorded and
/// answered with SECCOMP_USER_NOTIF_FLAG_CONTINUE right after the notification is received), so a traced syscall costs
/// one notification round trip. Memory is bounded: <see cref="MaxNumbers"/> syscall numbers,
/// <see cref="MaxValuesPerArgument"/> values per argument, <see cref="MaxThreads"/> threads.</remarks>
public sealed class SyscallRecorder : Notify
{
    /// <summary>Distinct values kept per learned argument (then only their union of bits).</summary>
    public const int MaxValuesPerArgument = 32;

    /// <summary>Distinct syscall numbers kept (the x86-64 table has fewer than 500).</summary>
    public const int MaxNumbers = 1024;

    /// <summary>Distinct threads counted.</summary>
    public const int MaxThreads = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<int, Entry> _entries = [];
    private readonly HashSet<int> _threads = [];
    private readonly Entry?[] _small = new Entry?[512];
    private long _total;
    private bool _threadsOverflowed;
    private bool _numbersOverflowed;

    /// <summary>Calls recorded so far.</summary>
    public long TotalCalls => Interlocked.Read(ref _total);

    /// <summary>Records the syscall (slow path: a syscall the fast path did not take) and allows it.</summary>
    public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        if (syscall.Arch == SyscallArch.X86_64)
        {
            Span<ulong> args = stackalloc ulong[6];
            for (int i = 0; i < 6; i++) args[i] = syscall.Args[i];
            Record(syscall.Number, args, syscall.Pid);
        }
        return ValueTask.FromResult(TraceAction.Allow);
    }

    /// <summary>Records one x86-64 syscall. O(1) apart from the bounded value lists; never blocks for long.</summary>
    internal void Record(int nr, ReadOnlySpan<ulong> args, int tid)
    {
        lock (_gate)
        {
            _total++;
            if (!_threadsOverflowed && _threads.Count < MaxThreads) _threads.Add(tid);
            else if (!_threads.Contains(tid)) _threadsOverflowed = true;
            Entry? entry = (uint)nr < (uint)_small.Length ? _small[nr] : _entries.GetValueOrDefault(nr);
            if (entry is null)
            {
                if (_entries.Count >= MaxNumbers)
                {
                    _numbersOverflowed = true;
                    return;
                }
                entry = new Entry(nr);
                _entries[nr] = entry;
                if ((uint)nr < (uint)_small.Length) _small[nr] = entry;
            }
            entry.Count++;
            var learnable = entry.Learnable;
            for (int i = 0; i < learnable.Length; i++)
            {
                ulong v = args[learnable[i].Index];
                if (learnable[i].Is32Bit) v &= 0xffffffff;
                entry.Values[i].Add(v);
            }
        }
    }

    /// <summary>A snapshot of what was recorded so far (call it after the sandbox ended for the whole run).</summary>
    public SyscallTrace GetTrace()
    {
        lock (_gate)
        {
            var list = new List<SyscallObservation>(_entries.Count);
            foreach (var entry in _entries.Values.OrderBy(e => e.Number))
            {
                var info = SyscallTable.Find(entry.Number);
                var args = new ArgumentObservation[entry.Learnable.Length];
                for (int i = 0; i < args.Length; i++)
                {
                    var a = entry.Learnable[i];
                    string name = info is not null && a.Index < info.ArgNames.Count ? info.ArgNames[a.Index] : $"arg{a.Index}";
                    var set = entry.Values[i];
                    args[i] = new ArgumentObservation(a, name, set.Sorted(), set.Overflowed, set.Union);
                }
                list.Add(new SyscallObservation(entry.Number, entry.Count, args));
            }
            return new SyscallTrace(list, _total, _threads.Count, _threadsOverflowed, _numbersOverflowed);
        }
    }

    /// <summary>Learn mode's policy: <paramref name="builder"/> (mounts, network and the like; no syscall rules of its
    /// own are needed) with every syscall traced and Allow(MapExec), so that the always-on rules alone stop anything:
    /// ptrace, bpf, namespace flags on clone/unshare, seccomp's NEW_LISTENER, a foreign ABI. Fork and exec are traced
    /// like any other syscall, so children are learned too.</summary>
    public static Policy CreateTracingPolicy(PolicyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.DefaultAction(SyscallAction.Trace).AllowMapExec().Build();
    }

    private sealed class Entry
    {
        public Entry(int number)
        {
            Number = number;
            Learnable = LearnableArgument.ByNumber.GetValueOrDefault(number) ?? [];
            Values = new ValueSet[Learnable.Length];
            for (int i = 0; i < Values.Length; i++) Values[i] = new ValueSet();
        }

        public int Number { get; }
        public long Count;
        public LearnableArgument[] Learnable { get; }
        public ValueSet[] Values { get; }
    }

    /// <summary>Up to <see cref="MaxValuesPerArgument"/> distinct values (a linear scan: the common case is 1–3) and their union.</summary>
    private sealed class ValueSet
    {
        private readonly ulong[] _values = new ulong[MaxValuesPerArgument];
        private int _count;
        public bool Overflowed { get; private set; }
        public ulong Union { get; private set; }

        public void Add(ulong v)
        {
            Union |= v;
            for (int i = 0; i < _count; i++) if (_values[i] == v) return;
            if (_count < _values.Length) _values[_count++] = v;
            else Overflowed = true;
        }

        public ulong[] Sorted()
        {
            var copy = _values.AsSpan(0, _count).ToArray();
            Array.Sort(copy);
            return copy;
        }
    }
}
