using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Sandbox2;

/// <summary>
/// A policy's compiled program, cached per <see cref="Policy"/> and re-stamped with each sandbox's exec nonce, so a
/// sandbox costs a copy instead of a compile. The nonce's places are found by compiling twice with two nonces
/// that differ in both halves: exactly the instructions whose constants differ hold the nonce.
/// </summary>
internal static class CompiledPolicyCache
{
    private sealed record Template(byte[] Bytes, int[] LowWords, int[] HighWords);

    private static readonly ConditionalWeakTable<Policy, Template> s_templates = [];
    private static readonly ConditionalWeakTable<Policy, object> s_seen = [];
    private const ulong NonceA = 0x1111_1111_2222_2222, NonceB = 0x3333_3333_4444_4444;

    /// <summary>The program of <paramref name="policy"/> compiled with MonitorAttached and <paramref name="nonce"/>.</summary>
    public static byte[] Compile(Policy policy, ulong nonce)
    {
        // A policy used once (the CLI) is compiled once; from its second sandbox on, it is stamped.
        if (!s_templates.TryGetValue(policy, out var t) && s_seen.TryAdd(policy, policy))
            return policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: nonce)).ToBytes();
        t ??= s_templates.GetValue(policy, Build);
        byte[] bytes = (byte[])t.Bytes.Clone();
        foreach (int at in t.LowWords) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)nonce);
        foreach (int at in t.HighWords) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)(nonce >> 32));
        return bytes;
    }

    private static Template Build(Policy policy)
    {
        byte[] a = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: NonceA)).ToBytes();
        byte[] b = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: NonceB)).ToBytes();
        if (a.Length != b.Length) throw new InvalidOperationException("the policy compiles to programs of different lengths for two nonces");
        var low = new List<int>();
        var high = new List<int>();
        for (int insn = 0; insn < a.Length; insn += 8)
        {
            int k = insn + 4; // sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
            if (a.AsSpan(insn, 4).SequenceEqual(b.AsSpan(insn, 4)) && a.AsSpan(k, 4).SequenceEqual(b.AsSpan(k, 4))) continue;
            uint ka = BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(k)), kb = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(k));
            if (!a.AsSpan(insn, 4).SequenceEqual(b.AsSpan(insn, 4)))
                throw new InvalidOperationException("the nonce changes the program's shape, not only constants");
            if (ka == unchecked((uint)NonceA) && kb == unchecked((uint)NonceB)) low.Add(k);
            else if (ka == (uint)(NonceA >> 32) && kb == (uint)(NonceB >> 32)) high.Add(k);
            else throw new InvalidOperationException("an unexpected constant differs between two nonces");
        }
        return new Template(a, [.. low], [.. high]);
    }
}
