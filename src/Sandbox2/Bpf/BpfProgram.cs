namespace Sandbox2.Bpf;

// STUB (owned by the policy-core work).
/// <summary>A classic seccomp-bpf program (struct sock_filter[]).</summary>
public sealed class BpfProgram
{
    /// <summary>The program as the kernel takes it: 8 bytes per instruction, little-endian.</summary>
    public byte[] ToBytes() => throw new NotImplementedException();
    public int Length { get; init; }
}
