using System.CommandLine;
using System.Globalization;
using System.Text;
using Sandbox2.Bpf;

namespace Sandbox2.Cli;

/// <summary><c>sandbox2 policy check | compile | explain | test</c> (CONTRACT.md).</summary>
internal static class PolicyCommand
{
    private static Argument<string> FileArgument() => new("FILE") { Description = "A policy file (policy language), @NAME (a built-in policy) or an OCI/Docker profile (.json)" };
    private static Option<string[]> IncludeOption() => new("-I", "--include-dir") { Description = "Where #include looks after the including file's directory (repeatable)", HelpName = "DIR" };

    public static Command Create()
    {
        var command = new Command("policy", "Check, compile, explain or test a policy.");
        command.Subcommands.Add(Check());
        command.Subcommands.Add(CompileCommand());
        command.Subcommands.Add(Explain());
        command.Subcommands.Add(Test());
        return command;
    }

    private static Command Check()
    {
        var file = FileArgument();
        var inc = IncludeOption();
        var c = new Command("check", "Parse and compile; exit 0, or exit 2 with FILE:LINE:COL: message.") { file, inc };
        c.SetAction(p => Guard(() =>
        {
            var policy = Build(p.GetValue(file)!, p.GetValue(inc));
            int n = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: PolicyLoader.DisplayNonce)).Length;
            Console.WriteLine($"{p.GetValue(file)}: ok ({n} BPF instructions)");
            return 0;
        }));
        return c;
    }

    private enum Format { Asm, Bpf, C }

    private static Command CompileCommand()
    {
        var file = FileArgument();
        var inc = IncludeOption();
        var format = new Option<Format>("--format") { Description = "asm (readable), bpf (raw struct sock_filter[]), c (a C array) [default: asm]", DefaultValueFactory = _ => Format.Asm };
        var c = new Command("compile", "Print the compiled BPF program (as the sandbox installs it, always-on rules included).") { file, inc, format };
        c.SetAction(p => Guard(() =>
        {
            var policy = Build(p.GetValue(file)!, p.GetValue(inc));
            var program = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: PolicyLoader.DisplayNonce));
            switch (p.GetValue(format))
            {
                case Format.Bpf:
                    using (var stdout = Console.OpenStandardOutput()) stdout.Write(program.ToBytes());
                    break;
                case Format.C:
                    var sb = new StringBuilder();
                    sb.Append(CultureInfo.InvariantCulture, $"/* {p.GetValue(file)}: {program.Length} instructions; the exec nonce 0x{PolicyLoader.DisplayNonce:x} is drawn per sandbox */\n");
                    sb.Append("#include <linux/filter.h>\nstatic struct sock_filter filter[] = {\n");
                    foreach (var i in program.Instructions)
                        sb.Append(CultureInfo.InvariantCulture, $"    {{ 0x{i.Code:x2}, {i.JumpTrue}, {i.JumpFalse}, 0x{i.K:x8} }},\n");
                    sb.Append("};\n");
                    Console.Write(sb.ToString());
                    break;
                default:
                    Console.WriteLine($"; {p.GetValue(file)}: {program.Length} instructions (always-on rules included; the exec nonce 0x{PolicyLoader.DisplayNonce:x} is drawn per sandbox)");
                    Console.Write(program.Disassemble());
                    break;
            }
            return 0;
        }));
        return c;
    }

    private static Command Explain()
    {
        var file = FileArgument();
        var inc = IncludeOption();
        var c = new Command("explain", "For each syscall the policy mentions, the decision in words, argument conditions included.") { file, inc };
        c.SetAction(p => Guard(() =>
        {
            var policy = Build(p.GetValue(file)!, p.GetValue(inc));
            var options = new PolicyCompileOptions(MonitorAttached: true);
            var numbers = policy.Rules.Concat(policy.OverridableRules).Select(r => r.Number).Distinct().Order();
            var sb = new StringBuilder();
            foreach (int nr in numbers)
            {
                string name = Language.KernelNameOf(nr);
                var argNames = SyscallArgs.Args(nr);
                string ArgName(int i) => i < argNames.Count ? argNames[i].Name : $"args[{i}]";
                sb.Append(CultureInfo.InvariantCulture, $"{name} ({nr}):\n");
                foreach (var r in policy.GetRules((uint)nr, options))
                {
                    if (r.When is ConstCondition { Value: false }) continue;
                    string when = r.IsUnconditional ? "otherwise" : "when " + r.When!.Format(ArgName);
                    sb.Append(CultureInfo.InvariantCulture, $"  {when}: {r.Action.ToPolicyWord()} - {r.Origin}\n");
                    if (r.IsUnconditional) break;
                }
            }
            sb.Append(CultureInfo.InvariantCulture, $"any other syscall: {policy.DefaultAction.ToPolicyWord()} (default action)\n");
            sb.Append("x86-32 (int 0x80) and x32 syscalls: KILL (always-on)\n");
            Console.Write(sb.ToString());
            return 0;
        }));
        return c;
    }

    private static Command Test()
    {
        var file = FileArgument();
        var inc = IncludeOption();
        var syscall = new Option<string>("--syscall") { Description = "NAME or NUMBER, then the arguments: NAME[,ARG...] (decimal or 0x-hex)", HelpName = "NAME|NUMBER[,ARG...]", Required = true };
        var arch = new Option<string>("--arch") { Description = "x86-64, x86-32 or x32 [default: x86-64]", HelpName = "ARCH", DefaultValueFactory = _ => "x86-64" };
        var c = new Command("test", "Evaluate the compiled program with the BPF interpreter for one syscall; prints the decision first.") { file, inc, syscall, arch };
        c.SetAction(p => Guard(() =>
        {
            var policy = Build(p.GetValue(file)!, p.GetValue(inc));
            var call = ParseSyscall(p.GetValue(syscall)!, p.GetValue(arch)!);
            var options = new PolicyCompileOptions(MonitorAttached: false);
            var decision = policy.Evaluate(call, options);
            uint ret = policy.Compile(options).Run(call.ToSeccompData());
            if (ret != SeccompReturn.For(decision, monitorAttached: false))
                throw new InvalidOperationException($"the compiled program says {SeccompReturn.Describe(ret)} but the model says {decision.ToPolicyWord()}");
            Console.WriteLine($"{decision.ToPolicyWord()} - {policy.Explain(call, options)}");
            return 0;
        }));
        return c;
    }

    private static Syscall ParseSyscall(string spec, string archName)
    {
        SyscallArch arch = archName switch
        {
            "x86-64" or "x86_64" => SyscallArch.X86_64,
            "x86-32" or "i386" => SyscallArch.X86_32,
            "x32" => SyscallArch.X32,
            _ => throw new CommandLineException($"--arch {archName}: expected x86-64, x86-32 or x32"),
        };
        string[] parts = spec.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 7) throw new CommandLineException($"--syscall {spec}: a syscall has at most 6 arguments");
        int nr;
        if (long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) || TryHex(parts[0], out n))
        {
            if (n is < int.MinValue or > uint.MaxValue) throw new CommandLineException($"--syscall: number {parts[0]} out of range");
            nr = unchecked((int)n);
        }
        else if (SyscallArgs.TryGetNumber(parts[0], out int k) || SyscallTable.Find(parts[0]) is { } info && (k = info.Number) >= 0)
        {
            if (arch != SyscallArch.X86_64 && arch != SyscallArch.X32) throw new CommandLineException("--syscall: give x86-32 syscalls by NUMBER");
            nr = k;
        }
        else throw new CommandLineException($"--syscall: unknown syscall '{parts[0]}'");
        var args = new ulong[6];
        for (int i = 1; i < parts.Length; i++)
        {
            string a = parts[i];
            if (TryHex(a, out long hx)) args[i - 1] = unchecked((ulong)hx);
            else if (ulong.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u)) args[i - 1] = u;
            else if (long.TryParse(a, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long s)) args[i - 1] = unchecked((ulong)s);
            else throw new CommandLineException($"--syscall: argument '{a}' is not a decimal or 0x-hex number");
        }
        return new Syscall(arch, nr, args);
    }

    private static bool TryHex(string s, out long value)
    {
        value = 0;
        if (!s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) return false;
        if (!ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong u)) return false;
        value = unchecked((long)u);
        return true;
    }

    /// <summary>Builds the named policy (warnings on standard error).</summary>
    internal static Policy Build(string spec, string[]? includeDirs) => PolicyLoader.Load(spec, includeDirs ?? []).Build();

    /// <summary>Runs a subcommand; a policy that does not load: exit 2 with its diagnostic (caret excerpt, hint).</summary>
    private static int Guard(Func<int> run)
    {
        try { return run(); }
        catch (PolicyLanguageException e)
        {
            Console.Error.WriteLine(e.Diagnostic.Format());
            return ExitStatus.BadCommandLine;
        }
        catch (PolicyException e)
        {
            Program.Error(ResultJson.OneLine(e.Message));
            return ExitStatus.BadCommandLine;
        }
    }

    private static class Language
    {
        public static string KernelNameOf(int nr) => SyscallArgs.KernelName(nr) ?? SyscallTable.Find(nr)?.Name ?? $"SYSCALL[{nr}]";
    }
}
