using System.Diagnostics;
using System.Text;
using Sandbox2.Bpf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy;

/// <summary>A bounded, seeded fuzzer for the OCI importer and the compiler behind it: generated profiles (valid and
/// nearly valid) and mutations of Docker's real profile. Every input must end in a profile or a
/// <see cref="PolicyException"/> (never another exception, never a hang), and every profile that builds must compile to
/// a program the kernel's checks accept and that decides as the model does.</summary>
public class OciSeccompFuzzTests(ITestOutputHelper output)
{
    private const int GeneratedInputs = 2500, MutatedInputs = 1500;

    private static readonly string[] Actions =
        ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
         "SCMP_ACT_TRACE", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_BOGUS", ""];
    private static readonly string[] Ops =
        ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_X"];
    private static readonly string[] ExtraNames = ["chown32", "riscv_hwprobe", "frob", "ptrace", "bpf", "clone", "clone3", "mmap", ""];

    [Fact]
    public void NoInputCrashesOrHangsTheImporterOrTheCompiler()
    {
        var rnd = new Random(20261202);
        int profiles = 0, refused = 0, compiled = 0;
        long worst = 0;
        string docker;
        using (var s = typeof(OciSeccompProfile).Assembly.GetManifestResourceStream("Sandbox2.Policy.docker-default.json")!)
        using (var r = new StreamReader(s))
            docker = r.ReadToEnd();
        for (int i = 0; i < GeneratedInputs + MutatedInputs; i++)
        {
            string json = i < GeneratedInputs ? Generate(rnd) : Mutate(docker, rnd);
            var sw = Stopwatch.StartNew();
            try
            {
                var profile = OciSeccompProfile.Parse(json, "fuzz.json");
                profiles++;
                var policy = profile.ApplyTo(new PolicyBuilder()).Build();
                var program = policy.Compile(new PolicyCompileOptions(MonitorAttached: false, ExecNonce: 0x1234));
                program.Validate();
                compiled++;
                for (int k = 0; k < 8; k++)
                {
                    int nr = k == 0 ? rnd.Next(0, 1 << 30) : rnd.Next(0, 470);
                    ulong[] args = Enumerable.Range(0, 6).Select(_ => rnd.Next(3) == 0 ? (ulong)rnd.Next(0, 64) : (ulong)rnd.NextInt64()).ToArray();
                    var data = new SeccompData(nr, SeccompReturn.AuditArchX86_64, args);
                    Assert.Equal(SeccompReturn.For(policy.Evaluate(data, new PolicyCompileOptions(ExecNonce: 0x1234)), false), program.Run(data));
                }
            }
            catch (PolicyException e)
            {
                refused++;
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
            catch (Exception e)
            {
                Assert.Fail($"input {i} threw {e.GetType().Name}: {e.Message}\n{json[..Math.Min(json.Length, 2000)]}");
            }
            worst = Math.Max(worst, sw.ElapsedMilliseconds);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"input {i} took {sw.Elapsed}");
        }
        output.WriteLine($"{GeneratedInputs + MutatedInputs} inputs: {profiles} parsed, {compiled} compiled and cross-checked, {refused} refused with a PolicyException; slowest {worst} ms");
        Assert.True(compiled > 500, $"only {compiled} inputs compiled: the generator makes too few valid profiles");
        Assert.True(refused > 500, $"only {refused} refused: the generator makes too few malformed inputs");
    }

    private static string Generate(Random rnd)
    {
        var sb = new StringBuilder("{");
        sb.Append($"\"defaultAction\":\"{(rnd.Next(8) == 0 ? Pick(rnd, Actions) : rnd.Next(2) == 0 ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW")}\"");
        if (rnd.Next(3) == 0) sb.Append($",\"defaultErrnoRet\":{(rnd.Next(10) == 0 ? rnd.Next(-5, 70000) : rnd.Next(0, 200))}");
        if (rnd.Next(4) == 0) sb.Append(",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]");
        if (rnd.Next(6) == 0) sb.Append(",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X32\"]}]");
        sb.Append(",\"syscalls\":[");
        int entries = rnd.Next(0, 40);
        for (int e = 0; e < entries; e++)
        {
            if (e > 0) sb.Append(',');
            sb.Append("{\"names\":[");
            int n = rnd.Next(rnd.Next(12) == 0 ? 0 : 1, 8);
            for (int k = 0; k < n; k++)
            {
                if (k > 0) sb.Append(',');
                string name = rnd.Next(10) == 0 ? Pick(rnd, ExtraNames) : SyscallTable.X86_64[rnd.Next(SyscallTable.X86_64.Count)].Name;
                sb.Append('"').Append(name).Append('"');
            }
            sb.Append("],\"action\":\"").Append(rnd.Next(5) == 0 ? Pick(rnd, Actions) : rnd.Next(2) == 0 ? "SCMP_ACT_ALLOW" : "SCMP_ACT_ERRNO").Append('"');
            if (rnd.Next(4) == 0) sb.Append(",\"errnoRet\":").Append(rnd.Next(0, rnd.Next(20) == 0 ? 10000 : 200));
            if (rnd.Next(2) == 0)
            {
                sb.Append(",\"args\":[");
                int a = rnd.Next(0, 5);
                for (int k = 0; k < a; k++)
                {
                    if (k > 0) sb.Append(',');
                    ulong value = rnd.Next(3) switch { 0 => (ulong)rnd.Next(0, 64), 1 => (ulong)rnd.NextInt64(), _ => 1UL << rnd.Next(64) };
                    sb.Append($"{{\"index\":{(rnd.Next(30) == 0 ? 7 : rnd.Next(0, 6))},\"value\":{value}");
                    if (rnd.Next(2) == 0) sb.Append($",\"valueTwo\":{(ulong)rnd.Next(0, 64)}");
                    sb.Append($",\"op\":\"{Pick(rnd, rnd.Next(15) == 0 ? Ops : Ops[..7])}\"}}");
                }
                sb.Append(']');
            }
            if (rnd.Next(5) == 0) sb.Append(",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}");
            if (rnd.Next(5) == 0) sb.Append($",\"includes\":{{\"arches\":[\"{(rnd.Next(2) == 0 ? "amd64" : "arm64")}\"],\"minKernel\":\"{rnd.Next(3, 8)}.{rnd.Next(0, 20)}\"}}");
            if (rnd.Next(6) == 0) sb.Append(",\"excludes\":{\"caps\":[\"CAP_SYS_PTRACE\"],\"minKernel\":\"4.8\"}");
            sb.Append('}');
        }
        sb.Append("]}");
        return sb.ToString();
    }

    private static string Mutate(string json, Random rnd)
    {
        var chars = json.ToCharArray().ToList();
        int edits = rnd.Next(1, 6);
        for (int e = 0; e < edits && chars.Count > 0; e++)
        {
            int at = rnd.Next(chars.Count);
            switch (rnd.Next(6))
            {
                case 0: chars[at] = (char)rnd.Next(32, 127); break;                       // replace
                case 1: chars.RemoveAt(at); break;                                         // delete
                case 2: chars.Insert(at, Punctuation[rnd.Next(Punctuation.Length)]); break;          // insert JSON punctuation
                case 3: chars.RemoveRange(at, Math.Min(chars.Count - at, rnd.Next(1, 200))); break;   // cut a run
                case 4: chars.InsertRange(at, "\"SCMP_CMP_MASKED_EQ\""); break;
                default: chars.InsertRange(at, rnd.Next(2) == 0 ? "18446744073709551615" : "\"ptrace\","); break;
            }
        }
        return new string(chars.ToArray());
    }

    private const string Punctuation = "{}[],:\"0-9eE";

    private static string Pick(Random rnd, string[] items) => items[rnd.Next(items.Length)];
}
