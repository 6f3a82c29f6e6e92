namespace Sandbox2.Tests.Policy.Learning;

/// <summary>The generator on recorded syscalls: the text it writes, and (through <see cref="LearnedPolicy.ApplyTo"/> and the
/// policy model) what that text means: what was seen is allowed, what was not is a violation.</summary>
public class PolicyLearnerTests
{
    private static int Nr(string name) => SyscallTable.GetNumber(name);

    private static SyscallRecorder Record(params (string Name, ulong[] Args)[] calls)
    {
        var recorder = new SyscallRecorder();
        foreach (var (name, args) in calls)
        {
            var six = new ulong[6];
            args.CopyTo(six, 0);
            recorder.Record(Nr(name), six, 1000);
        }
        return recorder;
    }

    private static SyscallAction Decide(Sandbox2.Policy policy, string name, params ulong[] args)
    {
        var six = new ulong[6];
        args.CopyTo(six, 0);
        return policy.Evaluate(new Syscall(SyscallArch.X86_64, Nr(name), six));
    }

    private static Sandbox2.Policy Model(LearnedPolicy learned) => learned.ApplyTo(new PolicyBuilder()).Build();

    [Fact]
    public void Text_ListsWhatWasSeen_WithConditionsOnFewValues_AndDefaultKill()
    {
        var trace = Record(
            ("write", [1]), ("write", [2]), ("write", [1]),
            ("exit_group", [0]), ("brk", [0]), ("fstat", [1]),
            ("ioctl", [1, 0x5401]), ("ioctl", [1, 0x5413])).GetTrace();
        var learned = PolicyLearner.Learn(trace, new PolicyLearnerOptions { Comments = ["test"] });
        string text = learned.ToText();
        Assert.Equal(
            "// test\n"
            + "// 8 calls of 5 syscalls by 1 task(s); 0 group(s), 5 syscalls listed, 2 on the argument values seen.\n"
            + "// Any other syscall is a violation.\n"
            + "POLICY learned {\n"
            + "  ALLOW {\n"
            + "    brk, exit_group, newfstat,\n"
            + "    ioctl(fd, cmd, arg) { fd == 1 && (cmd == 0x5401 /* TCGETS */ || cmd == 0x5413 /* TIOCGWINSZ */) },\n"
            + "    write(fd, buf, count) { fd == 1 || fd == 2 }\n"
            + "  }\n"
            + "}\n"
            + "USE learned DEFAULT KILL\n",
            text);
        Assert.False(learned.RequiresMapExec);
        Assert.Equal(5, learned.AllowedNumbers.Count);
    }

    [Fact]
    public void Model_AllowsWhatWasSeen_AndNothingElse()
    {
        var trace = Record(("write", [1]), ("write", [2]), ("ioctl", [1, 0x5401]), ("exit_group", [0]), ("read", [0])).GetTrace();
        var policy = Model(PolicyLearner.Learn(trace));
        Assert.Equal(SyscallAction.Allow, Decide(policy, "write", 1));
        Assert.Equal(SyscallAction.Allow, Decide(policy, "write", 2));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "write", 3));
        Assert.Equal(SyscallAction.Allow, Decide(policy, "ioctl", 1, 0x5401));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "ioctl", 1, 0x5413));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "ioctl", 0, 0x5401));
        Assert.Equal(SyscallAction.Allow, Decide(policy, "exit_group", 7));
        // 32-bit arguments are compared on their low 32 bits: garbage above does not matter.
        Assert.Equal(SyscallAction.Allow, Decide(policy, "write", 0xdead_0000_0000_0001));
        // Not made in the run: violations, socket included.
        foreach (string never in new[] { "socket", "openat", "execve", "clone", "kill", "mmap" })
            Assert.Equal(SyscallAction.Violation, Decide(policy, never, 0, 0, 0));
        // The always-on rules still hold.
        Assert.Equal(SyscallAction.Violation, Decide(policy, "ptrace"));
    }

    [Fact]
    public void ManyDescriptors_LeaveTheCallUnconditioned_ManyFlags_BecomeAMaskOfTheBitsSeen()
    {
        var calls = new List<(string, ulong[])>();
        for (ulong fd = 3; fd < 20; fd++) calls.Add(("read", [fd]));
        ulong[] flags = [0x80000, 0x90800, 0x80800, 0x80001, 0x80002, 0x80040, 0x80200, 0x80400, 0x80241];
        foreach (ulong f in flags) calls.Add(("openat", [unchecked((ulong)-100), 0, f]));
        var learned = PolicyLearner.Learn(Record(calls.ToArray()).GetTrace());
        var read = Assert.Single(learned.Rules, r => r.Name == "read");
        Assert.Null(read.When);
        var openat = Assert.Single(learned.Rules, r => r.Name == "openat");
        ulong union = flags.Aggregate((a, b) => a | b);
        Assert.Equal($"(flags & 0x{~union & 0xffffffff:x}) == 0", openat.ConditionText![..openat.ConditionText!.IndexOf(" /*", StringComparison.Ordinal)]);
        var policy = Model(learned);
        Assert.Equal(SyscallAction.Allow, Decide(policy, "read", 12345));
        Assert.Equal(SyscallAction.Allow, Decide(policy, "openat", 0, 0, 0x80000 | 0x40 | 0x1)); // bits all seen, combination not
        Assert.Equal(SyscallAction.Violation, Decide(policy, "openat", 0, 0, 0x200000)); // O_PATH never seen
    }

    [Fact]
    public void CloneFlags_AreLearned_AndExecMappingIsNoticed()
    {
        const ulong thread = 0x3d0f00, fork = 0x1200011;
        var trace = Record(("clone", [thread]), ("clone", [fork]), ("mmap", [0, 4096, 5, 0x802]), ("mprotect", [0, 4096, 1])).GetTrace();
        var learned = PolicyLearner.Learn(trace);
        Assert.True(learned.RequiresMapExec);
        var clone = Assert.Single(learned.Rules, r => r.Name == "clone");
        Assert.Contains("clone_flags == 0x3d0f00 /* CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID */", clone.ConditionText, StringComparison.Ordinal);
        Assert.Contains("clone_flags == 0x1200011 /* CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD */", clone.ConditionText, StringComparison.Ordinal);
        var policy = Model(learned);
        Assert.Equal(SyscallAction.Allow, Decide(policy, "clone", fork));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "clone", 0x4111)); // CLONE_VFORK|CLONE_VM|SIGCHLD: not seen
        Assert.Equal(SyscallAction.Allow, Decide(policy, "mmap", 0, 4096, 5, 0x802));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "mmap", 0, 4096, 7, 0x22));
    }

    [Fact]
    public void Groups_AreUsedOnlyWhereEveryMemberWasSeenWithoutCondition()
    {
        var groups = new Dictionary<string, IReadOnlyList<string>>
        {
            ["@ids"] = ["getuid", "geteuid", "getgid", "getegid"],
            ["@more-ids"] = ["@ids", "getresuid"],
            ["@io"] = ["read", "write"],       // write was conditioned: not usable
            ["@time"] = ["clock_gettime", "gettimeofday", "time"], // time not seen: not usable
        };
        var trace = Record(("getuid", []), ("geteuid", []), ("getgid", []), ("getegid", []), ("read", [0]), ("write", [1]),
            ("clock_gettime", [1]), ("gettimeofday", []), ("exit_group", [])).GetTrace();
        var learned = PolicyLearner.Learn(trace, new PolicyLearnerOptions { Groups = groups });
        Assert.Equal(["@ids"], learned.GroupsUsed.Select(g => g.Name));
        string text = learned.ToText();
        Assert.Contains("  USE @ids,\n  ALLOW {\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("getuid", text, StringComparison.Ordinal);
        var policy = Model(learned);
        Assert.Equal(SyscallAction.Allow, Decide(policy, "getegid"));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "getresuid"));
        Assert.Equal(SyscallAction.Violation, Decide(policy, "time"));
    }

    [Fact]
    public void Recorder_IsBounded()
    {
        var recorder = new SyscallRecorder();
        var six = new ulong[6];
        for (int i = 0; i < 5000; i++)
        {
            six[0] = (ulong)i;
            recorder.Record(Nr("write"), six, i);
        }
        for (int n = 600; n < 600 + 2 * SyscallRecorder.MaxNumbers; n++) recorder.Record(n, six, 1);
        var trace = recorder.GetTrace();
        Assert.True(trace.NumbersOverflowed);
        Assert.True(trace.ThreadsOverflowed);
        Assert.Equal(SyscallRecorder.MaxThreads, trace.Threads);
        Assert.Equal(SyscallRecorder.MaxNumbers, trace.Syscalls.Count);
        var write = trace.Find(Nr("write"))!;
        Assert.Equal(5000, write.Count);
        Assert.True(write.Arguments[0].Overflowed);
        Assert.Equal(SyscallRecorder.MaxValuesPerArgument, write.Arguments[0].Values.Count);
        // Unknown numbers are written as SYSCALL[n] (Kafel's form).
        Assert.Contains("SYSCALL[600]", PolicyLearner.Learn(trace).ToText(), StringComparison.Ordinal);
    }
}
