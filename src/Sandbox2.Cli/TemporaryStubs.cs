// TEMPORARY: members of the library's public API that the execution/policy work has not landed yet.
// Delete this file when they arrive (the stub types below then clash with the real ones: CS0436).
#pragma warning disable CA1822, IDE0060
namespace Sandbox2
{
    internal sealed class Violation
    {
        public string SyscallName { get; } = "";
        public int Number { get; }
        public SyscallArch Arch { get; }
        public IReadOnlyList<ulong> Args { get; } = [];
        public int Pid { get; }
        public string Description { get; } = "";
    }

    internal sealed class SandboxUsage
    {
        public TimeSpan WallTime { get; }
        public TimeSpan CpuTime { get; }
        public long MaxRssKb { get; }
    }

    internal static class TemporaryStubExtensions
    {
        extension(PolicyBuilder b)
        {
            public PolicyBuilder AddFile(string path, bool writable = false) => b;
            public PolicyBuilder AddFileAt(string outside, string inside, bool writable = false) => b;
            public PolicyBuilder AddDirectoryAt(string outside, string inside, bool writable = false) => b;
            public PolicyBuilder AddTmpfs(string inside, ulong sizeBytes) => b;
            public PolicyBuilder AddLibrariesForBinary(string path, string? ldLibraryPath = null) => b;
            public PolicyBuilder AddProc() => b;
            public PolicyBuilder AddMinimalDev() => b;
            public PolicyBuilder SetHostname(string name) => b;
            public PolicyBuilder SetNetwork(NetworkMode mode) => b;
            public PolicyBuilder CollectStacktracesOnViolation(bool enable) => b;
        }

        extension(Limits l)
        {
            public ulong? AddressSpace { get => null; set { } }
            public TimeSpan? CpuTime { get => null; set { } }
            public ulong? FileSize { get => null; set { } }
            public ulong OpenFiles { get => 1024; set { } }
        }

        extension(Executor e)
        {
            public string Cwd { get => "/"; set { } }
            public bool EnableSandboxBeforeExec { get => true; set { } }
        }

        extension(SandboxResult r)
        {
            public string? ReasonCode => null;
            public Violation? Violation => null;
            public IReadOnlyList<string>? StackTrace => null;
            public bool Oom => false;
            public SandboxUsage Usage => new();
        }
    }
}
