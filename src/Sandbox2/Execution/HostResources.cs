using System.Globalization;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>
/// The executor's own resources: the descriptor limit it runs with, and the words for a resource that ran out. Each
/// running sandbox holds three descriptors in the executor (init's pidfd, its status channel, its seccomp listener);
/// when any resource runs out, that one sandbox fails with SETUP_ERROR <see cref="ReasonCode.FailedResources"/> naming
/// it, and the running ones go on.
/// </summary>
internal static class HostResources
{
    private const int RLIMIT_NOFILE = 7;
    private const int EAGAIN = 11, ENOMEM = 12, ENFILE = 23, EMFILE = 24, ENOSPC = 28, EMSGSIZE = 90;
    private static int s_raised;

    /// <summary>Raises the soft descriptor limit to the hard one (as root, the hard one too, up to <c>fs.nr_open</c>),
    /// once per process, before the forkserver starts (it inherits the limit; sandboxes get their own from
    /// <see cref="Limits.OpenFiles"/>). Returns the soft limit in force.</summary>
    public static ulong RaiseFileLimit()
    {
        var current = FileLimit();
        if (Interlocked.Exchange(ref s_raised, 1) != 0) return current.Soft;
        ulong hard = current.Hard;
        if (Interop.GetEUid() == 0 && ReadNrOpen() is ulong nrOpen && nrOpen > hard) hard = nrOpen;
        if (hard > current.Soft || hard > current.Hard)
        {
            var wanted = new Interop.RLimit { Current = hard, Maximum = hard };
            if (Interop.SetRLimit(RLIMIT_NOFILE, ref wanted) != 0)
            {
                wanted = new Interop.RLimit { Current = current.Hard, Maximum = current.Hard };
                _ = Interop.SetRLimit(RLIMIT_NOFILE, ref wanted);
            }
        }
        return FileLimit().Soft;
    }

    /// <summary>The executor's RLIMIT_NOFILE.</summary>
    public static (ulong Soft, ulong Hard) FileLimit()
    {
        var r = default(Interop.RLimit);
        return Interop.GetRLimit(RLIMIT_NOFILE, ref r) == 0 ? (r.Current, r.Maximum) : (0, 0);
    }

    private static ulong? ReadNrOpen()
    {
        try
        {
            return ulong.TryParse(File.ReadAllText("/proc/sys/fs/nr_open").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True for the errnos that say a resource ran out rather than that something is wrong.</summary>
    public static bool IsExhaustion(int errno) => errno is EMFILE or ENFILE or ENOMEM or EAGAIN or EMSGSIZE;

    /// <summary>The resource an exhaustion errno names: "the executor's open-file limit (RLIMIT_NOFILE 20000)".</summary>
    public static string Describe(int errno) => errno switch
    {
        EMFILE or EMSGSIZE => string.Create(CultureInfo.InvariantCulture,
            $"the executor ran out of file descriptors (RLIMIT_NOFILE {FileLimit().Soft}; each running sandbox holds 3)"),
        ENFILE => "the system ran out of file descriptors (fs.file-max)",
        ENOMEM => "out of memory (or memory maps, vm.max_map_count)",
        EAGAIN => "the process or thread limit was reached (RLIMIT_NPROC, pids cgroup, kernel.pid_max or kernel.threads-max)",
        ENOSPC => "a namespace limit was reached (user.max_*_namespaces)",
        _ => Marshal.GetPInvokeErrorMessage(errno),
    };

    /// <summary>A SETUP_ERROR for a resource that ran out while <paramref name="what"/>.</summary>
    public static SetupFailure Exhausted(string what, int errno) =>
        new($"{what}: {Describe(errno)}", 0, ReasonCode.FailedResources);
}

/// <summary>A resource of the executor ran out while preparing one sandbox (that sandbox fails, nothing else).</summary>
internal sealed class ResourceExhaustedException : IOException
{
    public ResourceExhaustedException(SetupFailure failure) : base(failure.What) => Failure = failure;
    public ResourceExhaustedException() { Failure = new SetupFailure("out of resources", 0, ReasonCode.FailedResources); }
    public ResourceExhaustedException(string message) : base(message) { Failure = new SetupFailure(message, 0, ReasonCode.FailedResources); }
    public ResourceExhaustedException(string message, Exception inner) : base(message, inner) { Failure = new SetupFailure(message, 0, ReasonCode.FailedResources); }

    /// <summary>What ran out.</summary>
    public SetupFailure Failure { get; }
}
