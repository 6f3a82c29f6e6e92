namespace Sandbox2;

/// <summary>Everything learn mode saw in one run: the syscalls by number, how many calls and threads.</summary>
public sealed class SyscallTrace
{
    internal SyscallTrace(IReadOnlyList<SyscallObservation> syscalls, long totalCalls, int threads, bool threadsOverflowed, bool numbersOverflowed)
    {
        Syscalls = syscalls;
        TotalCalls = totalCalls;
        Threads = threads;
        ThreadsOverflowed = threadsOverflowed;
        NumbersOverflowed = numbersOverflowed;
    }

    /// <summary>The syscalls seen, by ascending number.</summary>
    public IReadOnlyList<SyscallObservation> Syscalls { get; }

    /// <summary>Calls seen in all (every one was a notification round trip).</summary>
    public long TotalCalls { get; }

    /// <summary>Distinct threads (host tids) that made them (at most <see cref="SyscallRecorder.MaxThreads"/> counted).</summary>
    public int Threads { get; }

    /// <summary>More threads than were counted.</summary>
    public bool ThreadsOverflowed { get; }

    /// <summary>More distinct syscall numbers than were kept (a program calling arbitrary numbers); the learned policy is then incomplete.</summary>
    public bool NumbersOverflowed { get; }

    /// <summary>The observation of syscall <paramref name="number"/>, or null when it was not made.</summary>
    public SyscallObservation? Find(int number)
    {
        foreach (var s in Syscalls) if (s.Number == number) return s;
        return null;
    }
}
