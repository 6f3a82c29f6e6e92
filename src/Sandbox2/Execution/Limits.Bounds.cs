using System.Globalization;

namespace Sandbox2;

// What this host lets a sandbox be given: checked before start so a limit that cannot be set is a sentence, not
// "setrlimit 7: Operation not permitted" from inside the sandbox.
public sealed partial class Limits
{
    /// <summary>The longest <see cref="WallTime"/> (the executor's timer: 2^32 - 2 ms, about 49.7 days).</summary>
    public static TimeSpan MaxWallTime { get; } = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The largest <see cref="OpenFiles"/> this process can give a sandboxee: its own hard RLIMIT_NOFILE
    /// (<c>ulimit -Hn</c>; as root raised to <c>fs.nr_open</c> first). The limit is set inside the sandbox's user
    /// namespace, where no capability can raise it.</summary>
    public static ulong MaxOpenFiles
    {
        get
        {
            HostResources.RaiseFileLimit();
            ulong hard = HostResources.FileLimit().Hard;
            return hard == 0 ? ulong.MaxValue : hard;
        }
    }

    /// <summary>Null if <paramref name="openFiles"/> can be set; otherwise why not, in one line.</summary>
    internal static string? CheckOpenFiles(ulong openFiles)
    {
        ulong max = MaxOpenFiles;
        return openFiles > max
            ? string.Create(CultureInfo.InvariantCulture, $"an open files limit of {openFiles} is more than this host allows: at most {max} (the hard limit, 'ulimit -Hn')")
            : null;
    }

    internal static string WallTimeTooLong(TimeSpan wallTime) => string.Create(CultureInfo.InvariantCulture,
        $"a wall-time limit of {wallTime.TotalSeconds:0.###} s is longer than the longest possible, {Math.Floor(MaxWallTime.TotalSeconds)} s (about {MaxWallTime.TotalDays:0.#} days)");
}
