using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Sandbox2.Cli;

/// <summary><c>sandbox2 run [OPTIONS] -- PROGRAM [ARG...]</c> (CONTRACT.md).</summary>
internal static class RunCommand
{
    /// <summary>Size of the default <c>/tmp</c> tmpfs and of a <c>--tmpfs DST</c> given without a size.</summary>
    internal const ulong DefaultTmpfsSize = 64UL << 20;

    /// <summary>PATH inside the sandbox unless <c>--env PATH=...</c> says otherwise.</summary>
    internal const string DefaultPath = Executor.DefaultPath;

    private static readonly Option<string> PolicyFile = new("--policy") { Description = "The seccomp policy: a built-in one (@default, @subprocess, @dotnet, @docker), an OCI/Docker seccomp profile (.json) or a file in the policy language [default: @default]", HelpName = "FILE|@NAME" };
    private static readonly Option<string[]> IncludeDir = new("-I", "--include-dir") { Description = "Where a policy file's #include looks after the file's own directory (repeatable)", HelpName = "DIR" };
    private static readonly Option<string[]> AllowConnect = new("--allow-connect") { Description = "With --network proxy: an endpoint the program may connect to (not built yet)", HelpName = "HOST:PORT" };
    private static readonly Option<string[]> Allow = Repeatable("--allow", "NAME[,NAME...]", "Also allow these syscalls (repeatable)");
    private static readonly Option<string[]> RoBind = Repeatable("--ro-bind", "SRC[:DST]", "Bind a host path read-only (repeatable)");
    private static readonly Option<string[]> Bind = Repeatable("--bind", "SRC[:DST]", "Bind a host path read-write (repeatable)");
    private static readonly Option<string[]> Tmpfs = Repeatable("--tmpfs", "DST[:SIZE]", "Mount a fresh tmpfs (repeatable; default size 64M)");
    private static readonly Option<bool> NoProc = new("--no-proc") { Description = "No /proc inside" };
    private static readonly Option<string> Cwd = new("--cwd") { Description = "Working directory inside [default: /]", HelpName = "DIR" };
    private static readonly Option<string[]> Env = Repeatable("--env", "NAME=VALUE", "Set a variable (repeatable); the host environment is not passed through [default: a minimal PATH]");
    private static readonly Option<string> Hostname = new("--hostname") { Description = "Hostname inside [default: sandbox2]", HelpName = "NAME" };
    private static readonly Option<NetworkMode> Network = new("--network")
    {
        Description = "none: empty network namespace; loopback: own namespace with lo up; host: the host's network (unsafe) [default: none]",
        HelpName = "none|loopback|host",
        CustomParser = ParseNetwork,
    };
    private static readonly Option<TimeSpan?> TimeLimit = Seconds("--time-limit", "Wall-clock limit in seconds; then status TIMEOUT [default: none]", wholeSeconds: false);
    private static readonly Option<TimeSpan?> CpuLimit = Seconds("--cpu-limit", "CPU time of all its processes together, in seconds (cgroup; RLIMIT_CPU per process too); then TIMEOUT, CPU_LIMIT [default: none]", wholeSeconds: true);
    private static readonly Option<ulong?> MemoryLimit = SizeOption("--memory-limit", "Memory of the whole sandbox, e.g. 256M, 2G (memory cgroup, swap off; RLIMIT_AS per process without one) [default: half of the host's memory]", allowZero: false);
    private static readonly Option<ulong?> FileSizeLimit = SizeOption("--file-size-limit", "Largest file it may write (RLIMIT_FSIZE) [default: none]", allowZero: true);
    private static readonly Option<ulong?> OpenFilesLimit = new("--open-files-limit")
    {
        Description = "RLIMIT_NOFILE [default: 1024]",
        HelpName = "N",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) || n < 1)
            {
                result.AddError($"--open-files-limit: '{text}' is not a whole number of at least 1");
                return null;
            }
            if (n > Limits.MaxOpenFiles)
            {
                result.AddError($"--open-files-limit: {n} is more than this host allows: at most {Limits.MaxOpenFiles} (the hard limit, 'ulimit -Hn')");
                return null;
            }
            return n;
        },
    };
    private static readonly Option<int?> ProcessLimit = new("--process-limit")
    {
        Description = "Most processes and threads at once, all of the sandbox together (pids cgroup; RLIMIT_NPROC without one) [default: 1024]",
        HelpName = "N",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= 4_000_000)
                return n;
            result.AddError($"--process-limit: '{text}' is not a whole number from 1 to 4000000");
            return null;
        },
    };
    private static readonly Option<ulong?> OutputLimit = SizeOption("--output-limit", "Most bytes written to stdout and stderr together; the first SIZE are delivered, then SIGNALED, OUTPUT_LIMIT [default: none]", allowZero: false);
    private static readonly Option<IsolationLevel> Isolation = new("--isolation")
    {
        Description = "namespaces: the full sandbox; no-namespaces: where namespaces cannot be made (a container): the same seccomp policy, Landlock rules, rlimits; weaker, and it says so [default: namespaces]",
        HelpName = "namespaces|no-namespaces",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (text == "namespaces") return IsolationLevel.Namespaces;
            if (text == "no-namespaces") return IsolationLevel.NoNamespaces;
            result.AddError($"--isolation: '{text}' is not one of namespaces, no-namespaces");
            return IsolationLevel.Namespaces;
        },
    };
    private static readonly Option<bool> SandboxAfterStart = new("--sandbox-after-start") { Description = "Start PROGRAM unfiltered; it applies the policy itself through Sandbox2.Client (SandboxMeHere)" };
    private static readonly Option<bool> StackTrace = new("--stack-trace") { Description = "Collect the violating thread's stack trace on a violation (and the main thread's on a timeout or a fatal signal)" };
    private static readonly Option<string> Result = new("--result") { Description = "Write the result as JSON to FILE ('-' = standard error)", HelpName = "FILE" };
    private static readonly Argument<string[]> Program = new("PROGRAM") { Arity = ArgumentArity.OneOrMore, Description = "The program (searched on the host's PATH) and its arguments" };

    public static Command Create()
    {
        var command = new Command("run", "Run PROGRAM in a fresh sandbox with the built-in default policy.");
        AddOptions(command);
        command.SetAction((parsed, cancellationToken) => RunAsync(parsed, learning: null, cancellationToken));
        return command;
    }

    /// <summary>Adds the run options and PROGRAM to <paramref name="command"/> (<c>run</c>, and <c>trace</c>, which takes the same).</summary>
    internal static void AddOptions(Command command)
    {
        foreach (Option option in new Option[]
        {
            PolicyFile, IncludeDir, AllowConnect, Allow, RoBind, Bind, Tmpfs, NoProc, Cwd, Env, Hostname, Network, TimeLimit, CpuLimit,
            MemoryLimit, FileSizeLimit, OpenFilesLimit, ProcessLimit, OutputLimit, Isolation, SandboxAfterStart, StackTrace, Result,
        })
        {
            command.Options.Add(option);
        }
        command.Arguments.Add(Program);
    }

    /// <summary>Options that choose syscall rules, which learn mode does not take (it allows and records every syscall).</summary>
    internal static IEnumerable<Option> PolicyOptions => [PolicyFile, Allow];

    /// <summary>Runs the sandbox; with <paramref name="learning"/> (<c>trace</c>) every syscall is recorded and allowed, and the
    /// learned policy is written after the run.</summary>
    internal static async Task<int> RunAsync(ParseResult parsed, TraceCommand.Learning? learning, CancellationToken cancellationToken)
    {
        RejectNotBuilt(parsed);
        string[] command = parsed.GetValue(Program) ?? [];
        if (command.Length == 0 || command[0].Length == 0)
            throw new CommandLineException("no PROGRAM given (usage: sandbox2 run [OPTIONS] -- PROGRAM [ARG...])");
        if (command[0].StartsWith('-'))
            throw new CommandLineException($"unrecognized option '{command[0]}' (see 'sandbox2 run --help'; put PROGRAM after '--')");
        Sandbox.WarmUp(); // start the forkserver while the policy is built
        string? resultSpec = parsed.GetValue(Result);
        if (resultSpec is { Length: 0 })
            throw new CommandLineException("--result: empty file name");

        NetworkMode network = parsed.GetValue(Network);
        if (network == NetworkMode.Host)
            global::Sandbox2.Cli.Program.Error("warning: --network host gives the sandbox the host's network; this is unsafe");

        Policy policy = null!;
        Executor executor = null!;
        string? setupError = null;
        try
        {
            // The executor finds PROGRAM on the host's PATH (as execvp would); argv[0] stays as typed.
            executor = CreateExecutor(parsed, command[0], command[1..], out Shebang? script);
            string? hostPath = File.Exists(executor.ProgramPath) ? executor.ProgramPath : null;
            policy = BuildPolicy(parsed, hostPath, network, script, learning);
        }
        catch (SetupException e)
        {
            setupError = e.Message;
        }
        // Opened only now: a usage error (exit 2, thrown above) leaves no --result file behind.
        using ResultDestination? resultFile = resultSpec is null ? null : ResultDestination.Open(resultSpec);
        if (setupError is not null)
        {
            global::Sandbox2.Cli.Program.Error(setupError);
            resultFile?.Write(ResultJson.SetupError(setupError));
            return ExitStatus.SetupError;
        }

        SandboxResult? result = null;
        using var stopSignals = new StopSignals();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopSignals.Token);
        try
        {
            await using var sandbox = new Sandbox(executor, policy, learning?.Recorder);
            result = await sandbox.RunAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // reported below as an interruption
        }
        catch (Exception e) when (e is not CommandLineException)
        {
            string reason = $"the sandbox could not be run: {ResultJson.OneLine(e.Message)}";
            global::Sandbox2.Cli.Program.Error(reason);
            resultFile?.Write(ResultJson.SetupError(reason));
            return ExitStatus.SetupError;
        }

        if (stopSignals.Signal is { } signal)
        {
            // Killed because this tool was asked to stop: say so, and exit as a shell expects (128 + signal).
            global::Sandbox2.Cli.Program.Error($"stopped by signal {signal}; the sandbox was killed");
            if (result is not null)
                resultFile?.Write(ResultJson.From(result));
            return 128 + signal;
        }
        if (result is null)
        {
            global::Sandbox2.Cli.Program.Error("interrupted; the sandbox was killed");
            return ExitStatus.Interrupted;
        }

        if (result.Isolation is { Level: IsolationLevel.NoNamespaces } weaker)
            global::Sandbox2.Cli.Program.Error("warning: ran with --isolation no-namespaces: weaker than the full sandbox (no user, pid, mount, "
                + "network, ipc or uts namespace: the program saw the host's processes, /proc and hostname); the filesystem was confined by "
                + $"Landlock ABI {weaker.LandlockAbi}" + (weaker.LandlockAbi >= 4 ? ", TCP too" : "") + ", the syscalls by the seccomp policy");
        if (result.Isolation is { Seccomp: false })
            global::Sandbox2.Cli.Program.Error("warning: --sandbox-after-start: the program never applied its policy (SandboxMeHere); it ran without a seccomp filter");
        if (result.Status != SandboxStatus.Ok)
            global::Sandbox2.Cli.Program.Error($"{ResultJson.StatusName(result.Status)}: {ResultJson.OneLine(result.Reason)}");
        resultFile?.Write(ResultJson.From(result));
        if (learning is not null && !learning.WritePolicy(result))
            return ExitStatus.SetupError;
        return ExitStatus.From(result);
    }

    private static void RejectNotBuilt(ParseResult parsed)
    {
        foreach (Option option in new Option[] { AllowConnect })
        {
            if (parsed.GetResult(option) is { Implicit: false })
                throw CommandLineException.NotBuiltYet(option.Name);
        }
    }

    private static Policy BuildPolicy(ParseResult parsed, string? hostPath, NetworkMode network, Shebang? script, TraceCommand.Learning? learning)
    {
        // A policy-language file's rules go after --allow's (first match wins, so --allow's rules win); the others load first.
        string? policySpec = parsed.GetValue(PolicyFile);
        bool language = learning is null && policySpec is { Length: > 0 } && !policySpec.StartsWith('@') && PolicyFiles.GetKind(policySpec) == PolicyFileKind.PolicyLanguage;
        PolicyBuilder builder = learning is null && !language ? LoadPolicy(policySpec) : new PolicyBuilder();
        Apply("--allow", () =>
        {
            foreach (string list in parsed.GetValue(Allow) ?? [])
            {
                string[] names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (names.Length == 0)
                    throw new CommandLineException("--allow: no syscall name given");
                foreach (string never in names.Where(n => n is "ptrace" or "bpf"))
                    throw new CommandLineException($"--allow {never}: {never} is never allowed in a sandbox");
                builder.AllowSyscalls(names);
            }
        });

        if (language) LoadPolicy(policySpec, parsed.GetValue(IncludeDir), builder);

        // The user's binds first, so that PROGRAM and libraries already visible through them are not mounted again
        // (a file mount inside a read-only directory bind could not be created).
        var binds = new List<(string Source, string Target)>();
        bool tmpGiven = false;
        foreach (string spec in parsed.GetValue(RoBind) ?? [])
            tmpGiven |= AddBind("--ro-bind", spec, writable: false, builder, binds);
        foreach (string spec in parsed.GetValue(Bind) ?? [])
            tmpGiven |= AddBind("--bind", spec, writable: true, builder, binds);
        foreach (string spec in parsed.GetValue(Tmpfs) ?? [])
            tmpGiven |= AddTmpfs(spec, builder);

        if (hostPath is not null)
        {
            try
            {
                ProgramLocator.AddProgramMounts(builder, hostPath, covered: binds.Any(b => Shows(b, hostPath)));
                if (script is not null && !binds.Any(b => Shows(b, script.ScriptPath)))
                    builder.AddFile(script.ScriptPath); // a #! script: the interpreter is the program, the script its argument
            }
            catch (PolicyException e)
            {
                throw new SetupException($"cannot mount {hostPath} and its libraries: {ResultJson.OneLine(e.Message)}", e);
            }
        }

        Apply("mounts", () =>
        {
            if (!parsed.GetValue(NoProc))
                builder.AddProc();
            builder.AddMinimalDev();
            if (!tmpGiven)
                builder.AddTmpfs("/tmp", DefaultTmpfsSize);
        });
        if (parsed.GetValue(Hostname) is { } hostname)
            Apply("--hostname", () => builder.SetHostname(hostname));
        builder.SetNetwork(network);
        if (parsed.GetValue(Isolation) == IsolationLevel.NoNamespaces)
            builder.DisableNamespaces();
        builder.CollectStacktracesOnViolation(parsed.GetValue(StackTrace)); // the library's default is on, the CLI's off
        builder.CollectStacktracesOnTimeout(parsed.GetValue(StackTrace)); // likewise
        builder.CollectStacktracesOnSignal(parsed.GetValue(StackTrace)); // likewise (a crash's trace)

        Policy? policy = null;
        Apply("policy", () => policy = learning is null ? builder.Build() : SyscallRecorder.CreateTracingPolicy(builder));
        return policy!;
    }

    /// <summary>The <c>--policy</c> option: <c>@NAME</c>, an OCI profile (<c>.json</c>) or a policy-language file (through
    /// <see cref="PolicyFiles.Load"/>); none means <c>@default</c>. What an import changed is printed as warnings on stderr.</summary>
    private static PolicyBuilder LoadPolicy(string? spec, IReadOnlyList<string>? includeDirs = null, PolicyBuilder? into = null)
    {
        if (spec is null) return BuiltinPolicies.CreateDefault();
        if (spec.Length == 0) throw new CommandLineException("--policy: empty policy name");
        PolicyFileKind kind;
        try
        {
            kind = PolicyFiles.GetKind(spec);
        }
        catch (PolicyException e)
        {
            throw new CommandLineException($"--policy: {ResultJson.OneLine(e.Message)}", e);
        }
        var warnings = new List<string>();
        PolicyBuilder? builder = null;
        try
        {
            builder = PolicyFiles.Load(spec, warnings, includeDirs, into);
        }
        catch (PolicyException e)
        {
            // The message names the file (and line:column where known).
            throw new CommandLineException((e is PolicyLanguageException ? "--policy: " : "") + ResultJson.OneLine(e.Message), e);
        }
        foreach (string w in warnings)
            global::Sandbox2.Cli.Program.Error($"warning: {ResultJson.OneLine(w)}");
        return builder;
    }

    /// <summary>Adds <c>--ro-bind</c>/<c>--bind SRC[:DST]</c>. Returns whether it mounts something on /tmp.</summary>
    private static bool AddBind(string option, string spec, bool writable, PolicyBuilder builder, List<(string Source, string Target)> binds)
    {
        int colon = spec.IndexOf(':', StringComparison.Ordinal);
        string source = colon >= 0 ? spec[..colon] : spec;
        string? target = colon >= 0 ? spec[(colon + 1)..] : null;
        if (source.Length == 0)
            throw new CommandLineException($"{option} {spec}: no source path");
        string hostSource = Path.GetFullPath(source);
        target ??= hostSource;
        if (!target.StartsWith('/'))
            throw new CommandLineException($"{option} {spec}: the path inside ('{target}') must be absolute");

        bool isDirectory = Directory.Exists(hostSource);
        if (!isDirectory && !File.Exists(hostSource))
            throw new CommandLineException($"{option} {spec}: {hostSource} does not exist");
        Apply($"{option} {spec}", () =>
        {
            if (isDirectory)
                builder.AddDirectoryAt(hostSource, target, writable);
            else
                builder.AddFileAt(hostSource, target, writable);
        });
        binds.Add((hostSource, target));
        return target.TrimEnd('/') == "/tmp";
    }

    /// <summary>Whether <paramref name="bind"/> makes host file <paramref name="hostPath"/> visible at the same path inside.</summary>
    private static bool Shows((string Source, string Target) bind, string hostPath)
    {
        string target = bind.Target.TrimEnd('/');
        if (hostPath == target)
            return hostPath == bind.Source;
        return hostPath.StartsWith(target + "/", StringComparison.Ordinal)
            && Path.GetFullPath(bind.Source.TrimEnd('/') + hostPath[target.Length..]) == hostPath;
    }

    /// <summary>Adds <c>--tmpfs DST[:SIZE]</c>. Returns whether it is /tmp.</summary>
    private static bool AddTmpfs(string spec, PolicyBuilder builder)
    {
        int colon = spec.LastIndexOf(':');
        string target = colon >= 0 ? spec[..colon] : spec;
        ulong size = DefaultTmpfsSize;
        if (colon >= 0)
        {
            if (!Size.TryParse(spec[(colon + 1)..], out size, out string error))
                throw new CommandLineException($"--tmpfs {spec}: {error}");
            if (size == 0)
                throw new CommandLineException($"--tmpfs {spec}: the size must be larger than 0");
        }
        if (!target.StartsWith('/'))
            throw new CommandLineException($"--tmpfs {spec}: the path inside ('{target}') must be absolute");
        Apply($"--tmpfs {spec}", () => builder.AddTmpfs(target, size));
        return target.TrimEnd('/') == "/tmp";
    }

    private static Executor CreateExecutor(ParseResult parsed, string path, string[] args, out Shebang? script)
    {
        script = null;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string entry in parsed.GetValue(Env) ?? [])
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new CommandLineException($"--env {entry}: expected NAME=VALUE");
            if (entry.Contains('\0', StringComparison.Ordinal))
                throw new CommandLineException($"--env {entry}: contains a NUL character");
            environment[entry[..eq]] = entry[(eq + 1)..];
        }
        environment.TryAdd("PATH", DefaultPath);

        string cwd = parsed.GetValue(Cwd) ?? "/";
        if (!cwd.StartsWith('/'))
            throw new CommandLineException($"--cwd {cwd}: must be an absolute path inside the sandbox");

        var limits = new Limits();
        limits.WallTime = parsed.GetValue(TimeLimit); // the CLI's default is no wall-clock limit
        limits.CpuTime = parsed.GetValue(CpuLimit);
        // Defaults that protect the host (CONTRACT.md): half of its memory, 1,024 tasks.
        limits.Memory = parsed.GetValue(MemoryLimit) ?? Limits.HalfOfHostMemory();
        limits.Processes = parsed.GetValue(ProcessLimit) ?? 1024;
        limits.OutputSize = parsed.GetValue(OutputLimit);
        limits.FileSize = parsed.GetValue(FileSizeLimit);
        if (parsed.GetValue(OpenFilesLimit) is { } openFiles)
            limits.OpenFiles = openFiles;

        Executor? executor = null;
        Shebang? found = null;
        Apply("program", () =>
        {
            executor = new Executor(path, args, environment);
            if (File.Exists(executor.ProgramPath) && Shebang.Read(executor.ProgramPath) is { } shebang)
            {
                found = shebang;
                executor = new Executor(shebang.Interpreter, shebang.InterpreterArgs(args), environment);
            }
            executor.Cwd = cwd;
            executor.Limits = limits;
            executor.EnableSandboxBeforeExec = !parsed.GetValue(SandboxAfterStart);
        });
        script = found;
        return executor!;
    }

    /// <summary>Runs a builder step fed from the command line; the library's validation errors become exit status 2.</summary>
    private static void Apply(string what, Action step)
    {
        try
        {
            step();
        }
        catch (PolicyException e)
        {
            throw new CommandLineException($"{what}: {ResultJson.OneLine(e.Message)}", e);
        }
        catch (ArgumentException e)
        {
            throw new CommandLineException($"{what}: {ResultJson.OneLine(e.Message)}", e);
        }
    }

    private static Option<string[]> Repeatable(string name, string helpName, string description) => new(name)
    {
        Description = description,
        HelpName = helpName,
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    private static Option<TimeSpan?> Seconds(string name, string description, bool wholeSeconds) => new(name)
    {
        Description = description,
        HelpName = "SEC",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out double seconds)
                || !double.IsFinite(seconds) || seconds <= 0)
            {
                result.AddError($"{name}: '{text}' is not a positive number of seconds");
                return null;
            }
            double max = wholeSeconds ? TimeSpan.MaxValue.TotalSeconds / 2 : Math.Floor(Limits.MaxWallTime.TotalSeconds);
            if (seconds > max)
            {
                result.AddError(wholeSeconds
                    ? $"{name}: {text} seconds is more than can be set"
                    : $"{name}: {text} seconds is longer than the longest wall-clock limit, {max} s (about {Limits.MaxWallTime.TotalDays:0.#} days)");
                return null;
            }
            if (wholeSeconds && seconds != Math.Floor(seconds))
            {
                result.AddError($"{name}: '{text}' must be a whole number of seconds (RLIMIT_CPU counts seconds)");
                return null;
            }
            return TimeSpan.FromSeconds(seconds);
        },
    };

    private static Option<ulong?> SizeOption(string name, string description, bool allowZero) => new(name)
    {
        Description = description,
        HelpName = "SIZE",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!Size.TryParse(text, out ulong bytes, out string error))
            {
                result.AddError($"{name}: {error}");
                return null;
            }
            if (bytes == 0 && !allowZero)
            {
                result.AddError($"{name}: the size must be larger than 0");
                return null;
            }
            return bytes;
        },
    };

    private static NetworkMode ParseNetwork(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        switch (text)
        {
            case "none": return NetworkMode.None;
            case "loopback": return NetworkMode.Loopback;
            case "host": return NetworkMode.Host;
            case "proxy":
                result.AddError("--network proxy is not built yet");
                return NetworkMode.None;
            default:
                result.AddError($"--network: '{text}' is not one of none, loopback, host");
                return NetworkMode.None;
        }
    }
}

/// <summary>The sandbox could not be set up from the CLI's side (exit status 125).</summary>
internal sealed class SetupException : Exception
{
    public SetupException(string message) : base(message) { }
    public SetupException(string message, Exception inner) : base(message, inner) { }
    public SetupException() { }
}
