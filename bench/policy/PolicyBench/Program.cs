// PolicyBench compile [N]        : compile time of a 300-rule policy (median/min/max of N runs, after warm-up)
// PolicyBench filters DIR         : writes DIR/tree.bpf (our compiler, ~100-syscall policy), DIR/linear.bpf
//                                   (the same rules as a linear chain, getppid/getpid last, misses fall through)
//                                   , DIR/allow.bpf (a lone "ret ALLOW" after the arch check) and DIR/docker.bpf
//                                   (the built-in @docker policy: Docker's default profile, as the sandbox installs it)
using System.Diagnostics;
using Sandbox2;
using Sandbox2.Bpf;

switch (args.FirstOrDefault())
{
    case "compile": Compile(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200); break;
    case "filters": Filters(args[1]); break;
    default: Console.Error.WriteLine("usage: PolicyBench compile [N] | filters DIR"); return 2;
}
return 0;

static PolicyBuilder Policy300()
{
    // 300 rules: 200 syscalls allowed outright, 60 with one argument condition, 40 with two (64-bit and 32-bit).
    var b = new PolicyBuilder();
    var nrs = SyscallTable.X86_64.Select(s => s.Number).Where(n => n is not (101 or 321)).Take(300).ToArray();
    for (int i = 0; i < 300; i++)
    {
        int nr = nrs[i];
        if (i < 200) b.AllowSyscall(nr);
        else if (i < 260) b.AddPolicyOnSyscall(nr, Arg.Of(0).LessOrEqual((ulong)i << 33 | 5), SyscallAction.Allow);
        else b.AddPolicyOnSyscall(nr, Arg.Of(1).Equal((ulong)i << 40) & Arg.Low32(2).MaskedEqual(0xf0, (ulong)(i % 16) << 4), SyscallAction.Errno(i % 100 + 1));
    }
    return b;
}

static void Compile(int n)
{
    var opts = new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 0x1234);
    for (int i = 0; i < 20; i++) Policy300().Build().Compile(opts);   // warm-up (JIT, tiering)
    var build = new List<double>();
    var compile = new List<double>();
    int length = 0;
    for (int i = 0; i < n; i++)
    {
        var sw = Stopwatch.StartNew();
        var policy = Policy300().Build();    // Build() validates and compiles once
        build.Add(sw.Elapsed.TotalMicroseconds);
        sw.Restart();
        length = policy.Compile(opts).Length;
        compile.Add(sw.Elapsed.TotalMicroseconds);
    }
    Console.WriteLine($"300-rule policy, {length} instructions, {n} runs");
    Console.WriteLine($"  PolicyBuilder...Build() (builds + validating compile): {Stats(build)}");
    Console.WriteLine($"  Policy.Compile():                                     {Stats(compile)}");
}

static string Stats(List<double> us)
{
    us.Sort();
    return $"median {us[us.Count / 2]:F0} us  [min {us[0]:F0}, p90 {us[us.Count * 9 / 10]:F0}, max {us[^1]:F0}]";
}

static void Filters(string dir)
{
    Directory.CreateDirectory(dir);
    // ~100 syscalls: the default-policy style allow list (first 100 numbers except ptrace/bpf and the two
    // measured syscalls), getppid allowed outright (cacheable), getpid allowed only when args[0] == 0 (checked).
    var names = SyscallTable.X86_64.Select(s => s.Number).Where(n => n is not (101 or 321 or 39 or 110 or 9 or 10 or 56 or 46)).Take(95)
        .Concat([231 /*exit_group*/, 262 /*newfstatat*/, 317 /*seccomp, to stack filters*/]).ToArray();
    var b = new PolicyBuilder().AllowMapExec();
    foreach (int nr in names) b.AllowSyscall(nr);
    b.AllowSyscall(110);                                                    // getppid
    b.AddPolicyOnSyscall(39, Arg.Of(0).Equal(0), SyscallAction.Allow);     // getpid(0)
    var policy = b.Build();
    var tree = policy.Compile(new PolicyCompileOptions());
    File.WriteAllBytes(Path.Combine(dir, "tree.bpf"), tree.ToBytes());
    File.WriteAllText(Path.Combine(dir, "tree.txt"), tree.Disassemble());

    // The same rules, linear: arch, x32, then one "jeq nr" per rule in rule order (getppid and getpid last),
    // a miss falls through to the next compare; a hit jumps to the shared "ret ALLOW" / the getpid argument check.
    var rules = names.Append(110).ToArray();
    var insns = new List<BpfInstruction>
    {
        BpfInstruction.LoadAbsolute(SeccompData.ArchOffset),
        BpfInstruction.Jump(BpfInstruction.Jeq, SeccompReturn.AuditArchX86_64, 1, 0),
        BpfInstruction.Return(SeccompReturn.KillProcess),
        BpfInstruction.LoadAbsolute(SeccompData.NrOffset),
        BpfInstruction.Jump(BpfInstruction.Jset, SeccompReturn.X32SyscallBit, 0, 1),
        BpfInstruction.Return(SeccompReturn.KillProcess),
    };
    // after the compares: [getpid jeq] ret KILL; ret ALLOW; getpid check: ld args[0] hi/lo ...
    int compares = rules.Length + 1;
    for (int i = 0; i < rules.Length; i++)
    {
        int toAllow = compares - i - 1 + 1;          // over the remaining compares and the "ret KILL"
        insns.Add(BpfInstruction.Jump(BpfInstruction.Jeq, (uint)rules[i], (byte)toAllow, 0));
    }
    insns.Add(BpfInstruction.Jump(BpfInstruction.Jeq, 39, 2, 0));               // getpid → its argument check
    insns.Add(BpfInstruction.Return(SeccompReturn.KillProcess));
    insns.Add(BpfInstruction.Return(SeccompReturn.Allow));
    insns.Add(BpfInstruction.LoadAbsolute(SeccompData.ArgsOffset + 4));
    insns.Add(BpfInstruction.Jump(BpfInstruction.Jeq, 0, 0, 3));
    insns.Add(BpfInstruction.LoadAbsolute(SeccompData.ArgsOffset));
    insns.Add(BpfInstruction.Jump(BpfInstruction.Jeq, 0, 0, 1));
    insns.Add(BpfInstruction.Return(SeccompReturn.Allow));
    insns.Add(BpfInstruction.Return(SeccompReturn.KillProcess));
    var linear = new BpfProgram(insns);
    // the linear program must decide like the tree for every syscall number (and getpid's argument)
    for (int nr = 0; nr < 600; nr++)
        if (nr != 435)   // clone3: the always-on ENOSYS is not part of the measured rules
        foreach (ulong a0 in new ulong[] { 0, 1, 1UL << 32 })
        {
            var d = new SeccompData(nr, SeccompReturn.AuditArchX86_64, [a0]);
            if (linear.Run(d) != tree.Run(d)) throw new InvalidOperationException($"linear != tree for nr {nr} a0 {a0}");
        }
    File.WriteAllBytes(Path.Combine(dir, "linear.bpf"), linear.ToBytes());
    File.WriteAllText(Path.Combine(dir, "linear.txt"), linear.Disassemble());
    var allow = new BpfProgram([
        BpfInstruction.LoadAbsolute(SeccompData.ArchOffset),
        BpfInstruction.Jump(BpfInstruction.Jeq, SeccompReturn.AuditArchX86_64, 1, 0),
        BpfInstruction.Return(SeccompReturn.KillProcess),
        BpfInstruction.Return(SeccompReturn.Allow)]);
    File.WriteAllBytes(Path.Combine(dir, "allow.bpf"), allow.ToBytes());
    var docker = BuiltinPolicies.Create("@docker").Build().Compile(new PolicyCompileOptions());
    File.WriteAllBytes(Path.Combine(dir, "docker.bpf"), docker.ToBytes());
    File.WriteAllText(Path.Combine(dir, "docker.txt"), docker.Disassemble());
    Console.WriteLine($"tree.bpf {tree.Length} insns, linear.bpf {linear.Length} insns, allow.bpf {allow.Length} insns, {policy.Rules.Count} rules; "
        + $"docker.bpf {docker.Length} insns, {SeccompActionCache.CachedSyscalls(docker).Count} syscalls in the kernel's action cache");
}
