using System.Diagnostics;
using System.Globalization;

namespace Sandbox2.Diagnostics;

/// <summary>
/// Runs the native probes (<c>sandbox2-forkserver --probe NAME</c>, native/probe.c): each tries its features for real
/// in a throwaway child process (nothing it creates — namespaces, filters, Landlock domains — outlives it) and prints
/// <c>key errno detail</c> lines. Results are cached per probe name.
/// </summary>
internal sealed class Probes
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly Dictionary<string, IReadOnlyDictionary<string, (int Errno, string Detail)>> _cache = new(StringComparer.Ordinal);

    public Probes(string program) => Program = program;

    /// <summary>The native program that carries the probes.</summary>
    public string Program { get; }

    /// <summary>The lines of probe <paramref name="name"/>, by key. Throws <see cref="IOException"/> if it cannot run.</summary>
    public IReadOnlyDictionary<string, (int Errno, string Detail)> Get(string name)
    {
        if (_cache.TryGetValue(name, out var cached)) return cached;
        if (!File.Exists(Program)) throw new IOException($"the native probe program {Program} is missing (it is built from native/)");
        var start = new ProcessStartInfo(Program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--probe");
        start.ArgumentList.Add(name);
        using var p = Process.Start(start) ?? throw new IOException($"cannot start {Program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new IOException($"probe {name} did not finish within {Timeout.TotalSeconds:0} s");
        }
        var lines = new Dictionary<string, (int, string)>(StringComparer.Ordinal);
        foreach (var line in stdout.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 3);
            if (parts.Length >= 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int errno))
                lines[parts[0]] = (errno, parts.Length == 3 ? parts[2].Trim() : "");
        }
        if (p.ExitCode != 0 && lines.Count == 0)
            throw new IOException($"probe {name} exited with {p.ExitCode}: {stderr.GetAwaiter().GetResult().Trim()}");
        _cache[name] = lines;
        return lines;
    }

    /// <summary>The errno of <paramref name="key"/> in probe <paramref name="name"/> (ENOENT-like -1 when it was not tried).</summary>
    public int Errno(string name, string key) => Get(name).TryGetValue(key, out var v) ? v.Errno : -1;

    public string Detail(string name, string key) => Get(name).TryGetValue(key, out var v) ? v.Detail : "";
}
