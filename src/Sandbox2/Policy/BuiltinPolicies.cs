using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>The built-in policies (<c>@default</c>, <c>@subprocess</c>, <c>@dotnet</c>, <c>@docker</c>: the CLI's
/// <c>--policy @NAME</c> and the policy language's <c>USE @NAME</c>) and the PolicyBuilder presets by the snake_case names the
/// policy language's <c>USE</c> knows. What each built-in policy allows and why: docs/POLICIES.md.</summary>
public static class BuiltinPolicies
{
    /// <summary>The CLI's built-in <c>@default</c> policy: enough for ordinary file-reading, output-writing tools
    /// (ls, cat, sort, grep, sed, gzip, wc, head, ...; static or dynamic) and for the interpreters and tools that probe
    /// their surroundings at start-up (bash, sh, python3, perl, awk, jq, sqlite3), with no exec after start, no
    /// networking, no ptrace, no namespace or mount changes.</summary>
    public static PolicyBuilder CreateDefault() => new PolicyBuilder().AllowDefaultPrograms();

    /// <summary>The built-in policies' names, in the order the documentation lists them.</summary>
    public static IReadOnlyList<string> PolicyNames { get; } = ["@default", "@subprocess", "@dotnet", "@docker"];

    /// <summary>The built-in policies by name (with the leading <c>@</c>).</summary>
    public static IReadOnlyDictionary<string, Action<PolicyBuilder>> Policies { get; } = new Dictionary<string, Action<PolicyBuilder>>
    {
        ["@default"] = b => b.AllowDefaultPrograms(),
        ["@subprocess"] = b => b.AllowSubprocesses(),
        ["@dotnet"] = b => b.AllowDotNetPrograms(),
        ["@docker"] = b => OciSeccompProfile.DockerDefault.ApplyTo(b),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The built-in policy <c>@NAME</c> (<c>@default</c>, <c>@subprocess</c>, <c>@dotnet</c>, <c>@docker</c>) or the
    /// PolicyBuilder preset <c>NAME</c> (<c>allow_static_startup</c>, <c>allow_dynamic_startup</c>, <c>allow_dotnet_runtime</c>,
    /// <c>allow_read</c>, ...: <see cref="Presets"/>) as something to apply to a builder; false for an unknown name.
    /// A named syscall group (<c>@basic-io</c>, ...) is not a preset: see <see cref="SyscallGroups.TryGet"/>.</summary>
    public static bool TryGetPreset(string name, out Action<PolicyBuilder> apply)
    {
        if (name is not null && (name.StartsWith('@') ? Policies : Presets).TryGetValue(name, out var found))
        {
            apply = found;
            return true;
        }
        apply = static _ => { };
        return false;
    }

    /// <summary>A new builder with built-in policy <paramref name="name"/> applied (<c>@default</c>, ...); an unknown name throws a
    /// <see cref="PolicyException"/> listing the known ones.</summary>
    public static PolicyBuilder Create(string name)
    {
        if (name is null || !name.StartsWith('@') || !Policies.TryGetValue(name, out var apply))
            throw new PolicyException($"unknown built-in policy '{name}' (known: {string.Join(", ", PolicyNames)})");
        var builder = new PolicyBuilder();
        apply(builder);
        return builder;
    }

    /// <summary>Presets by name: <c>default</c>, <c>allow_static_startup</c>, <c>allow_dynamic_startup</c>,
    /// <c>allow_dotnet_runtime</c> and every helper as <c>allow_read</c>, <c>allow_write</c>, ...</summary>
    public static IReadOnlyDictionary<string, Action<PolicyBuilder>> Presets { get; } = new Dictionary<string, Action<PolicyBuilder>>
    {
        ["default"] = b => b.AllowDefaultPrograms(),
        ["allow_static_startup"] = b => b.AllowStaticStartup(),
        ["allow_dynamic_startup"] = b => b.AllowDynamicStartup(),
        ["allow_dotnet_runtime"] = b => b.AllowDotNetRuntime(),
        ["allow_read"] = b => b.AllowRead(),
        ["allow_write"] = b => b.AllowWrite(),
        ["allow_open"] = b => b.AllowOpen(),
        ["allow_stat"] = b => b.AllowStat(),
        ["allow_access"] = b => b.AllowAccess(),
        ["allow_dup"] = b => b.AllowDup(),
        ["allow_pipe"] = b => b.AllowPipe(),
        ["allow_chmod"] = b => b.AllowChmod(),
        ["allow_chown"] = b => b.AllowChown(),
        ["allow_readdir"] = b => b.AllowReaddir(),
        ["allow_readlink"] = b => b.AllowReadlink(),
        ["allow_link"] = b => b.AllowLink(),
        ["allow_symlink"] = b => b.AllowSymlink(),
        ["allow_mkdir"] = b => b.AllowMkdir(),
        ["allow_utime"] = b => b.AllowUtime(),
        ["allow_unlink"] = b => b.AllowUnlink(),
        ["allow_rename"] = b => b.AllowRename(),
        ["allow_exit"] = b => b.AllowExit(),
        ["allow_time"] = b => b.AllowTime(),
        ["allow_sleep"] = b => b.AllowSleep(),
        ["allow_get_ids"] = b => b.AllowGetIds(),
        ["allow_get_pids"] = b => b.AllowGetPids(),
        ["allow_get_pgids"] = b => b.AllowGetPGIDs(),
        ["allow_get_rlimit"] = b => b.AllowGetRlimit(),
        ["allow_set_rlimit"] = b => b.AllowSetRlimit(),
        ["allow_get_random"] = b => b.AllowGetRandom(),
        ["allow_handle_signals"] = b => b.AllowHandleSignals(),
        ["allow_kill"] = b => b.AllowKill(),
        ["allow_alarm"] = b => b.AllowAlarm(),
        ["allow_posix_timers"] = b => b.AllowPosixTimers(),
        ["allow_fork"] = b => b.AllowFork(),
        ["allow_wait"] = b => b.AllowWait(),
        ["allow_epoll"] = b => b.AllowEpoll(),
        ["allow_poll"] = b => b.AllowPoll(),
        ["allow_select"] = b => b.AllowSelect(),
        ["allow_event_fd"] = b => b.AllowEventFd(),
        ["allow_inotify"] = b => b.AllowInotify(),
        ["allow_tcgets"] = b => b.AllowTCGETS(),
        ["allow_safe_fcntl"] = b => b.AllowSafeFcntl(),
        ["allow_futex"] = b => b.AllowFutex(),
        ["allow_mmap_without_exec"] = b => b.AllowMmapWithoutExec(),
        ["allow_mprotect_without_exec"] = b => b.AllowMprotectWithoutExec(),
        ["allow_system_malloc"] = b => b.AllowSystemMalloc(),
        ["allow_restartable_sequences"] = b => b.AllowRestartableSequences(),
        // Sandbox2's Allow(MapExec): the always-on W^X guard off, so that the policy's own mmap/mprotect rules decide
        // PROT_EXEC (what a learned policy of a dynamic program or a JIT says with USE allow_map_exec).
        ["allow_map_exec"] = b => b.AllowMapExec(),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Applies preset <paramref name="name"/> (or built-in policy <c>@NAME</c>); an unknown name throws a
    /// <see cref="PolicyException"/> listing the known ones.</summary>
    public static PolicyBuilder Use(this PolicyBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!TryGetPreset(name, out var apply))
            throw new PolicyException($"unknown built-in policy '{name}' (known: {string.Join(", ", PolicyNames.Concat(Presets.Keys.Order(StringComparer.Ordinal)))})");
        apply(builder);
        return builder;
    }
}
