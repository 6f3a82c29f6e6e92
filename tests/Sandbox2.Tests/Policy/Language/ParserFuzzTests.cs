using System.Diagnostics;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy.Language;

/// <summary>Generator-based fuzzing: 20,000 deterministic mutations of valid policies (deleted, duplicated, swapped and
/// inserted text and tokens, deep nesting, huge numbers). No input may crash or hang the lexer, parser, resolver or
/// compiler: each either loads (and then builds and compiles, or is refused with a <see cref="PolicyException"/>) or
/// is refused with a <see cref="PolicyLanguageException"/>.</summary>
public class ParserFuzzTests(ITestOutputHelper output)
{
    private const int Inputs = 20_000;

    private static readonly string[] Seeds =
    [
        "POLICY my_tool {\n  ALLOW { read, write(fd, buf, count) { fd == 1 || fd == 2 }, exit_group },\n  ERRNO(1) { openat }\n}\nUSE allow_static_startup, my_tool DEFAULT KILL",
        "#define MYFD 3\nALLOW { close { fd == MYFD }, mmap { (prot & PROT_EXEC) == 0 && (flags | MAP_PRIVATE) != 0 } } DEFAULT ERRNO(EPERM)",
        "ALLOW { getppid(a, b, c) { !(a == 1 || b == 1 && c == 1), a > b, (a | b) & c == b & c } } LOG { getpid } TRAP(7) { getsid }",
        "KILL_PROCESS { ptrace, process_vm_readv, process_vm_writev } ERRNO(38) { io_uring_setup } DEFAULT ALLOW",
        "ALLOW { SYSCALL[110], getpid ON { x86_64, arm }, USER_NOTIF } TRACE(3) { gettid } USE @basic-io DEFAULT KILL_THREAD",
        "/* c */ POLICY a { DENY { socket { family == AF_INET && type == SOCK_STREAM } } }, POLICY b { USE a } USE b // x\nDEFAULT LOG",
        "ERRNO(1337) { geteuid }\nERRNO(0) { ptrace }\nKILL_PROCESS { syslog }\nDEFAULT ALLOW",
    ];

    private static readonly string[] Fragments =
    [
        "{", "}", "(", ")", ",", "[", "]", "!", "&", "|", "&&", "||", "==", "!=", "<", "<=", ">", ">=", "#", "#define X 1\n",
        "#include \"nope\";", "ALLOW", "KILL", "ERRNO(", "TRAP(1)", "USE", "POLICY p", "DEFAULT", "ON", "SYSCALL[", "@", "@basic-io",
        "fd", "read", "0x", "0xffffffffffffffff", "99999999999999999999", "-1", "0b", "08", "/*", "*/", "//", "\n", "\t", "\"",
        "((((((((((", "))))))))))", "a == a", "stat", "ptrace", "\0", "é", "x86_64", "O_CLOEXEC", "-", ";", "~",
    ];

    [Fact]
    public void NoInputCrashesOrHangs()
    {
        var rng = new Random(20261202);
        int loaded = 0, refused = 0, refusedAtBuild = 0;
        var sw = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (int n = 0; n < Inputs; n++)
        {
            string text = Mutate(Seeds[rng.Next(Seeds.Length)], rng);
            var one = Stopwatch.StartNew();
            try
            {
                var doc = PolicyLanguage.Parse(text);
                loaded++;
                try { doc.ToBuilder().Build().Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 7)); }
                catch (PolicyException) { refusedAtBuild++; }
            }
            catch (PolicyLanguageException) { refused++; }
            catch (Exception e)
            {
                Assert.Fail($"input {n} threw {e.GetType().Name}: {e.Message}\n--- input ---\n{text}\n{e.StackTrace}");
            }
            if (one.Elapsed > slowest) slowest = one.Elapsed;
            Assert.True(one.Elapsed < TimeSpan.FromSeconds(30), $"input {n} took {one.Elapsed}:\n{text}");
        }
        output.WriteLine($"{Inputs} inputs in {sw.Elapsed.TotalSeconds:F1} s (slowest {slowest.TotalMilliseconds:F0} ms): " +
            $"{loaded} loaded ({refusedAtBuild} of them refused when built), {refused} refused with a diagnostic");
        Assert.True(loaded > Inputs / 100 && refused > Inputs / 100, "the mutations should both keep and break policies");
    }

    private static string Mutate(string seed, Random rng)
    {
        var s = new System.Text.StringBuilder(seed);
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits; e++)
        {
            int at = rng.Next(s.Length + 1);
            switch (rng.Next(7))
            {
                case 0 when s.Length > 0: s.Remove(Math.Min(at, s.Length - 1), Math.Min(1 + rng.Next(8), s.Length - Math.Min(at, s.Length - 1))); break;
                case 1: s.Insert(at, Fragments[rng.Next(Fragments.Length)]); break;
                case 2 when s.Length > 2:
                    int from = rng.Next(s.Length - 1), len = Math.Min(1 + rng.Next(40), s.Length - from);
                    s.Insert(at, s.ToString(from, len));
                    break;
                case 3 when s.Length > 1:
                    int i = rng.Next(s.Length - 1);
                    (s[i], s[i + 1]) = (s[i + 1], s[i]);
                    break;
                case 4: s.Insert(at, (char)rng.Next(1, 128)); break;
                case 5: s.Insert(at, rng.Next(3) switch { 0 => new string('(', rng.Next(300)), 1 => string.Concat(Enumerable.Repeat("&1", rng.Next(250))), _ => "!" + new string('!', rng.Next(300)) }); break;
                default: s.Insert(at, " "); break;
            }
        }
        return s.ToString();
    }
}
