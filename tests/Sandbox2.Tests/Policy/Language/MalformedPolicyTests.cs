namespace Sandbox2.Tests.Policy.Language;

/// <summary>Every malformed form is refused with Kafel's message, at the right place, with a caret excerpt and, where
/// a name is misspelt, a suggestion.</summary>
public class MalformedPolicyTests
{
    public static TheoryData<string, string, int, int> Cases() => new()
    {
        // text, message (a part of it), line, column
        { "", "syntax error, unexpected end of file", 1, 1 },
        { "POLICY example {\n  ALLOW {\n    read, write\n  }\n  DEFAULT KILL\n}\nUSE example DEFAULT KILL", "syntax error, unexpected DEFAULT, expecting '}' or ','", 5, 3 },
        { "ALLOW { nosuch }", "Undefined syscall `nosuch'", 1, 9 },
        { "ALLOW { write { undef == 1 } }", "Undefined identifier `undef'", 1, 17 },
        { "ERRNO(65536) { write }", "Errno value 65536 out of range (0-65535)", 1, 7 },
        { "TRAP(65536) { write }", "Trap value 65536 out of range (0-65535)", 1, 6 },
        { "TRACE(65536) { write }", "Trace value 65536 out of range (0-65535)", 1, 7 },
        { "ALLOW { write(myfd, myfd, mysize) }", "Redefinition of argument `myfd'", 1, 21 },
        { "ALLOW { write(a, b, c, d, e, f, g) }", "Too many arguments defined for syscall", 1, 33 },
        { "POLICY empty {}\nPOLICY empty {}\nUSE empty DEFAULT KILL", "Redefinition of policy `empty'", 2, 1 },
        { "USE undef DEFAULT KILL", "Undefined policy `undef'", 1, 5 },
        { "POLICY broken { USE undef } USE broken DEFAULT KILL", "Undefined policy `undef'", 1, 21 },
        { "POLICY a { USE a } USE a", "Undefined policy `a'", 1, 16 },
        { "DEFAULT KILL DEFAULT ALLOW", "Redefinition of default action", 1, 14 },
        { "#define myconst 1\n#define myconst 2\nDEFAULT KILL", "Redefinition of constant `myconst' with different value (was: 1 is: 2)", 2, 1 },
        { "POLICY empty {} USE empty DEFAULT KILL /* oops ", "unterminated comment", 1, 40 },
        { "ALLOW { SYSCALL[0x12345678901234567] }", "number `0x12345678901234567' out of range", 1, 17 },
        { "ALLOW { SYSCALL[0x100000000] }", "syscall number 4294967296 out of range", 1, 9 },
        { "ALLOW { 18446744073709551616 }", "out of range", 1, 9 },
        { "ALLOW { KILL }", "syntax error, unexpected KILL", 1, 9 },
        { "POLICY ALLOW {} DEFAULT KILL", "syntax error, unexpected ALLOW, expecting IDENTIFIER", 1, 8 },
        { "POLICY empty{} USE DEFAULT DEFAULT KILL", "syntax error, unexpected DEFAULT, expecting IDENTIFIER", 1, 20 },
        { "ALLOW { SYSCALL }", "syntax error, unexpected '}', expecting '['", 1, 17 },
        { "ALLOW { define }", "syntax error, unexpected define", 1, 9 },
        { "ALLOW { read ON sparc }", "Unknown architecture `sparc'", 1, 17 },
        { "ALLOW { read ON { x86_64, amd64 } }", "Duplicate architecture `x86_64'", 1, 9 },
        { "DEFAULT KILL #include", "unterminated include statement", 1, 14 },
        { "#include\"x.policy\";", "unexpected filename", 1, 9 },
        { "#include x.policy;", "unexpected char `x' in #include", 1, 10 },
        { "#include \"x.policy;", "unterminated filename string", 1, 10 },
        { "#include \"does-not-exist.policy\";", "could not include file `does-not-exist.policy'", 1, 10 },
        { "ALLOW { read { fd = 1 } }", "unexpected char `='", 1, 19 },
        { "ALLOW { read { fd == 1 }", "syntax error, unexpected end of file", 1, 25 },
        { "ALLOW read", "syntax error, unexpected IDENTIFIER, expecting '{'", 1, 7 },
        { "read", "syntax error, unexpected IDENTIFIER", 1, 1 },
        { "ALLOW { read { fd } }", "expecting a comparison", 1, 19 },
        { "ALLOW { read { fd == 09 } }", "invalid digit `9' in octal number `09'", 1, 22 },
        { "ALLOW { read { (fd == 1) == 1 } }", "syntax error, unexpected ==", 1, 20 },
        { "USE @nosuch DEFAULT KILL", "Undefined group or preset `@nosuch'", 1, 5 },
        { "ALLOW { @nosuch }", "Undefined group `@nosuch'", 1, 9 },
        { "ERRNO(ENOSUCH) { read }", "syntax error, unexpected IDENTIFIER, expecting NUMBER", 1, 7 },
        { "ALLOW { read ~ }", "unexpected char `~'", 1, 14 },
        { "ALLOW { read { fd == 1 } } ; DEFAULT KILL", "unexpected char `;'", 1, 28 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedWithKafelsMessage(string text, string message, int line, int column)
    {
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Parse(text, "t.policy").ToBuilder().Build());
        Assert.Contains(message, e.Diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal((line, column), (e.Diagnostic.Line, e.Diagnostic.Column));
        Assert.StartsWith($"t.policy:{line}:{column}: ", e.Message, StringComparison.Ordinal);
        string formatted = e.Diagnostic.Format();
        if (e.Diagnostic.SourceLine is not null)
            Assert.Contains("\n  " + new string(' ', column - 1) + "^", formatted, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ALLOW { wirte }", "did you mean `write'?")]
    [InlineData("ALLOW { write { fdd == 1 } }", "did you mean `fd'?")]
    [InlineData("ALLOW { openat { flags == O_CLOEXE } }", "did you mean `O_CLOEXEC'?")]
    [InlineData("POLICY mine {} USE mien DEFAULT KILL", "did you mean `mine'?")]
    [InlineData("POLICY example { ALLOW { read } DEFAULT KILL } USE example DEFAULT KILL", "DEFAULT belongs outside POLICY")]
    [InlineData("ALLOW { read ON x86_46 }", "did you mean `x86_64'?")]
    public void HintsSaySomethingUseful(string text, string hint)
    {
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Parse(text).ToBuilder().Build());
        Assert.Contains(hint, e.Diagnostic.Hint ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public void ExpressionDepthIsLimited()
    {
        string text = "ALLOW { read { fd == 1" + string.Concat(Enumerable.Repeat("&1", 200)) + "} }";
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Parse(text));
        Assert.Contains("Max expression depth (200) exceeded", e.Message, StringComparison.Ordinal);
        string parens = "ALLOW { read { " + new string('(', 100_000) + "fd == 1" + new string(')', 100_000) + " } }";
        e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Parse(parens));
        Assert.Contains("Max expression depth (200) exceeded", e.Message, StringComparison.Ordinal);
        // 199 levels are fine
        PolicyLanguage.Parse("ALLOW { read { fd == 1" + string.Concat(Enumerable.Repeat("&1", 199)) + "} }").ToBuilder().Build();
    }

    [Fact]
    public void KafelsStackOverflowPolicyCompilesHere()
    {
        // Kafel refuses this (its codegen needs a scratch slot per level); with the deeper side first it needs one slot here.
        string chain = string.Concat(Enumerable.Repeat("flags & mode & 0x1337 & ", 9)) + "flags & mode & 0x1337 == 0x1";
        var policy = PolicyLanguage.Parse($"ALLOW {{ open {{ {chain} }} }} DEFAULT ERRNO(1)").ToBuilder().Build();
        var call = new Syscall(SyscallArch.X86_64, 2, [0, 0x1337, 0x1337]);
        Assert.Equal("ERRNO(1)", policy.Evaluate(call).ToPolicyWord());   // 0x1337 != 1
        Assert.Equal(global::Sandbox2.Bpf.SeccompReturn.Errno | 1, policy.Compile(default).Run(call.ToSeccompData()));
    }

    [Fact]
    public void ProgramSizeIsLimited()
    {
        // Kafel's broken_max_instructions: every second syscall number allowed
        string text = "ALLOW { exit" + string.Concat(Enumerable.Range(0, 5000).Select(i => $", SYSCALL[{i * 2}]")) + "}";
        var e = Assert.Throws<PolicyException>(() => PolicyLanguage.Parse(text).ToBuilder().Build());
        Assert.Contains("BPF instructions", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SYSCALL")]
    [InlineData("ALLOW")]
    [InlineData("LOG")]
    [InlineData("ERRNO")]
    [InlineData("KILL")]
    [InlineData("KILL_PROCESS")]
    [InlineData("KILL_THREAD")]
    [InlineData("USER_NOTIF")]
    [InlineData("DENY")]
    [InlineData("TRAP")]
    [InlineData("TRACE")]
    [InlineData("USE")]
    [InlineData("POLICY")]
    [InlineData("DEFAULT")]
    [InlineData("ON")]
    [InlineData("define")]
    public void KeywordsAreNotIdentifiers(string keyword)
    {
        foreach (string template in new[] { "POLICY empty{{}} USE {0} DEFAULT KILL", "POLICY {0} {{}} POLICY empty{{}} USE empty DEFAULT KILL", "POLICY basic {{ ALLOW {{ {0} }} }} USE basic DEFAULT KILL" })
            Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Parse(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, keyword)).ToBuilder().Build());
    }

    [Fact]
    public void WarningsNameAliasesAndUnreachableRules()
    {
        var doc = PolicyLanguage.Parse("ALLOW { stat, fstat, lstat, uname, umount2, sendfile } ERRNO(1) { newstat } ALLOW { ptrace } DEFAULT KILL", "w.policy");
        var w = doc.Warnings.Select(d => d.ToString()).ToArray();
        Assert.Contains(w, m => m.StartsWith("w.policy:1:9: warning: `stat' is the libc name of the kernel's `newstat'", StringComparison.Ordinal));
        Assert.Contains(w, m => m.Contains("`umount2' is the libc name of the kernel's `umount'", StringComparison.Ordinal));
        Assert.Contains(w, m => m.Contains("`sendfile' is the libc name of the kernel's `sendfile64'", StringComparison.Ordinal));
        Assert.Contains(w, m => m.Contains("can never apply", StringComparison.Ordinal));
        Assert.Contains(w, m => m.Contains("ptrace is never allowed", StringComparison.Ordinal));
    }
}
