using System.Text;

namespace Sandbox2.Bpf;

/// <summary>Compiles a <see cref="Policy"/> to classic seccomp-bpf.
/// <para>Layout (Kafel-style): check arch (→ violation), check the x32 bit (→ violation), then a balanced
/// <c>jge</c> tree over syscall-number ranges that share one rule chain, then each range's chain. A chain whose
/// decision depends only on the number is a single <c>ret</c>, so the path of such a syscall loads only
/// <c>arch</c> and <c>nr</c> and stays eligible for the kernel's seccomp action cache. Argument checks are
/// emitted only inside their syscall's chain, with 64-bit comparisons split into 32-bit halves, and laid out
/// so that a failed check falls through to the next rule.</para>
/// <para>The program is emitted backwards (from the last instruction), so every jump target is known when the
/// jump is emitted; a conditional jump farther than 255 instructions goes through an inserted <c>ja</c>.</para></summary>
internal sealed class BpfCompiler
{
    private readonly List<BpfInstruction> _reversed = [];
    private readonly Dictionary<string, int> _chainLabels = [];
    private readonly bool _monitorAttached;

    private BpfCompiler(bool monitorAttached) => _monitorAttached = monitorAttached;

    /// <summary>Label of the next instruction to be emitted (labels count from the end of the program).</summary>
    private int Here => _reversed.Count;

    public static BpfProgram Compile(Policy policy, PolicyCompileOptions options)
    {
        var c = new BpfCompiler(options.MonitorAttached);
        var ranges = BuildRanges(policy, options);
        int violation = c.EmitReturn(SyscallAction.Violation);
        int tree = c.EmitTree(ranges, 0, ranges.Count);
        c.EmitJump(BpfInstruction.Jset, SeccompReturn.X32SyscallBit, violation, tree);
        int loadNr = c.Emit(BpfInstruction.LoadAbsolute(SeccompData.NrOffset));
        c.EmitJump(BpfInstruction.Jeq, SeccompReturn.AuditArchX86_64, loadNr, violation);
        c.Emit(BpfInstruction.LoadAbsolute(SeccompData.ArchOffset));
        if (c._reversed.Count > BpfInstruction.MaxInstructions)
            throw new PolicyException(
                $"policy compiles to {c._reversed.Count} BPF instructions, more than the kernel's limit of {BpfInstruction.MaxInstructions} (BPF_MAXINSNS); use fewer argument conditions");
        c._reversed.Reverse();
        return new BpfProgram(c._reversed);
    }

    private sealed record Range(uint Low, string Key, List<(ArgCondition? When, SyscallAction Action)> Chain);

    /// <summary>Splits 0..2^32-1 into maximal ranges of syscall numbers with the same rule chain.</summary>
    private static List<Range> BuildRanges(Policy policy, PolicyCompileOptions options)
    {
        var ranges = new List<Range>();
        void Add(uint low, List<(ArgCondition?, SyscallAction)> chain)
        {
            string key = Key(chain);
            if (ranges.Count > 0 && ranges[^1].Key == key) return;
            ranges.Add(new Range(low, key, chain));
        }
        List<(ArgCondition?, SyscallAction)> DefaultChain(ulong nr) => [(null, policy.DefaultFor((uint)nr))];
        // A gap [from, to) between special numbers: the default action, split where DefaultAbove starts.
        void AddGap(ulong from, ulong to)
        {
            if (from >= to) return;
            Add((uint)from, DefaultChain(from));
            if (policy.DefaultAbove is { } above && from <= (ulong)above.Highest && (ulong)above.Highest + 1 < to)
                Add((uint)above.Highest + 1, DefaultChain((ulong)above.Highest + 1));
        }
        ulong next = 0;
        foreach (uint nr in policy.GetSpecialNumbers())
        {
            AddGap(next, nr);
            Add(nr, policy.GetChain(nr, options));
            next = (ulong)nr + 1;
        }
        AddGap(next, 1UL << 32);
        return ranges;
    }

    private static string Key(List<(ArgCondition? When, SyscallAction Action)> chain)
    {
        var sb = new StringBuilder();
        foreach (var (when, action) in chain) sb.Append(when?.ToString() ?? "*").Append("->").Append(action).Append(';');
        return sb.ToString();
    }

    private int Emit(BpfInstruction insn)
    {
        _reversed.Add(insn);
        return _reversed.Count - 1;
    }

    private readonly Dictionary<uint, int> _returnLabels = [];

    /// <summary>A return of <paramref name="action"/>: an identical return emitted shortly before (within reach of a
    /// conditional jump, with room to spare) is shared instead of emitting another one.</summary>
    private int EmitReturn(SyscallAction action)
    {
        uint value = SeccompReturn.For(action, _monitorAttached);
        if (_returnLabels.TryGetValue(value, out int label) && Distance(label) <= ReturnReach) return label;
        return _returnLabels[value] = Emit(BpfInstruction.Return(value));
    }

    /// <summary>How far back a return is shared: well inside a conditional jump's 255, so that the jumps emitted to it a
    /// little later (after a subtree) still reach it without a <c>ja</c>.</summary>
    private const int ReturnReach = 128;

    private int Distance(int label) => Here - label - 1;

    private int EmitJumpAlways(int target) => Emit(BpfInstruction.JumpAlways((uint)Distance(target)));

    /// <summary>A conditional jump to labels <paramref name="ifTrue"/>/<paramref name="ifFalse"/> (through a <c>ja</c> when too far).</summary>
    private int EmitJump(ushort op, uint k, int ifTrue, int ifFalse)
    {
        if (ifTrue == ifFalse) return ifTrue;
        while (Distance(ifTrue) > byte.MaxValue || Distance(ifFalse) > byte.MaxValue)
        {
            if (Distance(ifTrue) > byte.MaxValue) ifTrue = EmitJumpAlways(ifTrue);
            else ifFalse = EmitJumpAlways(ifFalse);
        }
        return Emit(BpfInstruction.Jump(op, k, (byte)Distance(ifTrue), (byte)Distance(ifFalse)));
    }

    /// <summary>Balanced binary search over ranges[from..to): <c>jge ranges[mid].Low</c> → right half, else left half (falls through).</summary>
    private int EmitTree(List<Range> ranges, int from, int to)
    {
        if (to - from == 1) return EmitChain(ranges[from]);
        int mid = (from + to) / 2;
        int right = EmitTree(ranges, mid, to);
        int left = EmitTree(ranges, from, mid);
        return EmitJump(BpfInstruction.Jge, ranges[mid].Low, right, left);
    }

    /// <summary>A range's chain: each rule's check falls through to the next rule; the chain's returns follow it.
    /// A chain of more than one instruction is emitted once and shared by every range that has it.</summary>
    private int EmitChain(Range range)
    {
        var chain = range.Chain;
        if (chain.Count == 1) return EmitReturn(chain[0].Action);
        if (_chainLabels.TryGetValue(range.Key, out int shared)) return shared;
        var returns = new Dictionary<SyscallAction, int>();
        foreach (var action in chain.Select(r => r.Action).Distinct().Reverse())
            returns[action] = EmitReturn(action);
        int next = returns[chain[^1].Action];
        for (int i = chain.Count - 2; i >= 0; i--)
            next = EmitCondition(chain[i].When!, returns[chain[i].Action], next);
        _chainLabels[range.Key] = next;
        return next;
    }

    private int EmitCondition(ArgCondition condition, int ifTrue, int ifFalse)
    {
        if (ifTrue == ifFalse) return ifTrue;
        switch (condition)
        {
            case ConstCondition k: return k.Value ? ifTrue : ifFalse;
            case NotCondition n: return EmitCondition(n.Inner, ifFalse, ifTrue);
            case AndCondition a: return EmitCondition(a.Left, EmitCondition(a.Right, ifTrue, ifFalse), ifFalse);
            case OrCondition o when SameWordEqualities(o) is { } values: return EmitWordIn(values, ifTrue, ifFalse);
            case OrCondition o: return EmitCondition(o.Left, ifTrue, EmitCondition(o.Right, ifTrue, ifFalse));
            case CompareCondition c: return EmitCompare(c, ifTrue, ifFalse);
            case ExprCondition e: return EmitExprCompare(e, ifTrue, ifFalse);
            default: throw new PolicyException($"unsupported condition {condition}");
        }
    }

    /// <summary>An "or" of 32-bit equalities on the same argument word and mask (what <see cref="Arg.In"/> builds),
    /// or null.</summary>
    private static List<CompareCondition>? SameWordEqualities(OrCondition or)
    {
        var list = new List<CompareCondition>();
        var stack = new Stack<ArgCondition>();
        stack.Push(or);
        while (stack.Count > 0)
        {
            switch (stack.Pop())
            {
                case OrCondition o: stack.Push(o.Right); stack.Push(o.Left); break;
                case CompareCondition { Op: ArgOp.Equal } c when c.Is32Bit || c.Mask >> 32 == 0 && c.Value >> 32 == 0: list.Add(c); break;
                default: return null;
            }
        }
        var first = list[0];
        return list.All(c => c.Index == first.Index && (uint)c.Mask == (uint)first.Mask) ? list : null;
    }

    /// <summary>One load of the word, then a <c>jeq</c> per value (a miss falls through to the next one).</summary>
    private int EmitWordIn(List<CompareCondition> values, int ifTrue, int ifFalse)
    {
        if (ifTrue == ifFalse) return ifTrue;
        uint mask = (uint)values[0].Mask;
        int next = ifFalse;
        int before = Here;
        for (int i = values.Count - 1; i >= 0; i--)
        {
            uint v = (uint)values[i].Value;
            if ((v & ~mask) != 0) continue;   // can never be equal
            next = EmitJump(BpfInstruction.Jeq, v, ifTrue, next);
        }
        if (next < before) return next;
        if (mask != uint.MaxValue) Emit(BpfInstruction.AluAnd(mask));
        return Emit(BpfInstruction.LoadAbsolute(SeccompData.ArgsOffset + 8 * (uint)values[0].Index));
    }

    /// <summary>BPF has only ==, &gt; and &gt;=: !=, &lt; and &lt;= are their negations with the targets swapped.</summary>
    private static ArgOp Normalize(ArgOp op, ref int ifTrue, ref int ifFalse)
    {
        switch (op)
        {
            case ArgOp.NotEqual: (ifTrue, ifFalse) = (ifFalse, ifTrue); return ArgOp.Equal;
            case ArgOp.Less: (ifTrue, ifFalse) = (ifFalse, ifTrue); return ArgOp.GreaterOrEqual;
            case ArgOp.LessOrEqual: (ifTrue, ifFalse) = (ifFalse, ifTrue); return ArgOp.Greater;
            default: return op;
        }
    }

    /// <summary>(args[i] &amp; mask) op value, unsigned, on 64 bits as two 32-bit halves (or on the low half only).</summary>
    private int EmitCompare(CompareCondition c, int ifTrue, int ifFalse)
    {
        ArgOp op = Normalize(c.Op, ref ifTrue, ref ifFalse);
        if (ifTrue == ifFalse) return ifTrue;
        uint lowOffset = SeccompData.ArgsOffset + 8 * (uint)c.Index, highOffset = lowOffset + 4;
        uint vl = (uint)c.Value, vh = (uint)(c.Value >> 32), ml = (uint)c.Mask, mh = (uint)(c.Mask >> 32);
        int low = EmitWordCompare(lowOffset, ml, op, vl, ifTrue, ifFalse);
        if (c.Is32Bit) return low;
        // High half: equal → decide on the low half; greater → true (for > and >=); otherwise false.
        if (mh == 0) return vh == 0 ? low : ifFalse;
        int before = Here;
        int high = EmitJump(BpfInstruction.Jeq, vh, low, ifFalse);
        if (op != ArgOp.Equal) high = EmitJump(BpfInstruction.Jgt, vh, ifTrue, high);
        if (high < before) return high;   // no new instruction: nothing to load for
        if (mh != uint.MaxValue) Emit(BpfInstruction.AluAnd(mh));
        return Emit(BpfInstruction.LoadAbsolute(highOffset));
    }

    private int EmitWordCompare(uint offset, uint mask, ArgOp op, uint value, int ifTrue, int ifFalse)
    {
        if (ifTrue == ifFalse) return ifTrue;
        if (mask == 0)
        {
            bool result = op switch { ArgOp.Equal => value == 0, ArgOp.Greater => false, _ => value == 0 };
            return result ? ifTrue : ifFalse;
        }
        if (op == ArgOp.Equal && value == 0 && mask != uint.MaxValue)
        {
            EmitJump(BpfInstruction.Jset, mask, ifFalse, ifTrue);   // (x & mask) == 0
        }
        else
        {
            ushort code = op switch { ArgOp.Equal => BpfInstruction.Jeq, ArgOp.Greater => BpfInstruction.Jgt, _ => BpfInstruction.Jge };
            EmitJump(code, value, ifTrue, ifFalse);
            if (mask != uint.MaxValue) Emit(BpfInstruction.AluAnd(mask));
        }
        return Emit(BpfInstruction.LoadAbsolute(offset));
    }

    // ---- general argument expressions (ExprCondition): words computed with A, X and scratch slots ----

    /// <summary>The scratch slots seccomp has (BPF_MEMWORDS).</summary>
    private const int ScratchSlots = 16;

    /// <summary><c>Left op Right</c> on 64 bits (high words first, as two 32-bit comparisons) or on the low words only.</summary>
    private int EmitExprCompare(ExprCondition c, int ifTrue, int ifFalse)
    {
        ArgOp op = Normalize(c.Op, ref ifTrue, ref ifFalse);
        if (ifTrue == ifFalse) return ifTrue;
        ushort code = op switch { ArgOp.Equal => BpfInstruction.Jeq, ArgOp.Greater => BpfInstruction.Jgt, _ => BpfInstruction.Jge };
        int low = EmitWordJump(c.Left, c.Right, Word.Low, code, ifTrue, ifFalse);
        if (c.Is32Bit) return low;
        // high words equal → the low words decide; for > and >=: high greater → true, high less → false
        int equalHigh = EmitWordJump(c.Left, c.Right, Word.High, BpfInstruction.Jeq, low, ifFalse);
        return op == ArgOp.Equal ? equalHigh : EmitWordJump(c.Left, c.Right, Word.High, BpfInstruction.Jgt, ifTrue, equalHigh);
    }

    private enum Word { Low, High }

    /// <summary>The word's value when it does not depend on the arguments (x &amp; 0, x | 0xffffffff and constants), else null.</summary>
    private static uint? WordConst(ArgExpr e, Word w)
    {
        switch (e)
        {
            case ConstValue k: return w == Word.Low ? (uint)k.Value : (uint)(k.Value >> 32);
            case BitwiseValue b:
                uint? l = WordConst(b.Left, w), r = WordConst(b.Right, w);
                if (l is uint x && r is uint y) return b.IsOr ? x | y : x & y;
                uint clobber = b.IsOr ? uint.MaxValue : 0;
                return l == clobber || r == clobber ? clobber : null;
            default: return null;
        }
    }

    /// <summary>Scratch slots (beyond the one it is given) a word's computation needs (Sethi-Ullman numbering).</summary>
    private static int Need(ArgExpr e, Word w)
    {
        if (WordConst(e, w) is not null || e is not BitwiseValue b) return 0;
        if (WordConst(b.Left, w) is not null) return Need(b.Right, w);
        if (WordConst(b.Right, w) is not null) return Need(b.Left, w);
        int l = Need(b.Left, w), r = Need(b.Right, w);
        return l == r ? l + 1 : Math.Max(l, r);
    }

    /// <summary>True when computing the word leaves X alone.</summary>
    private static bool KeepsX(ArgExpr e, Word w) =>
        WordConst(e, w) is not null || e switch
        {
            BitwiseValue b when WordConst(b.Left, w) is not null => KeepsX(b.Right, w),
            BitwiseValue b when WordConst(b.Right, w) is not null => KeepsX(b.Left, w),
            BitwiseValue => false,
            _ => true,
        };

    /// <summary>Appends (in execution order) the instructions that leave the word of <paramref name="e"/> in A,
    /// using scratch slots from <paramref name="slot"/> on.</summary>
    private static void LoadWord(ArgExpr e, Word w, int slot, List<BpfInstruction> code)
    {
        if (WordConst(e, w) is uint k) { code.Add(new BpfInstruction(BpfInstruction.Ld | BpfInstruction.Imm, 0, 0, k)); return; }
        switch (e)
        {
            case ArgValue a:
                code.Add(BpfInstruction.LoadAbsolute(SeccompData.ArgsOffset + 8 * (uint)a.Index + (w == Word.High ? 4u : 0u)));
                return;
            case BitwiseValue b:
                ushort alu = b.IsOr ? BpfInstruction.Or : BpfInstruction.And;
                uint identity = b.IsOr ? 0 : uint.MaxValue;
                ArgExpr first = b.Left, second = b.Right;
                if (WordConst(first, w) is not null) (first, second) = (second, first);
                if (WordConst(second, w) is uint c)
                {
                    LoadWord(first, w, slot, code);
                    if (c != identity) code.Add(new BpfInstruction((ushort)(BpfInstruction.Alu | alu | BpfInstruction.K_), 0, 0, c));
                    return;
                }
                if (Need(second, w) > Need(first, w)) (first, second) = (second, first);   // the hungrier side first
                LoadWord(first, w, slot, code);
                if (KeepsX(second, w))
                {
                    code.Add(new BpfInstruction(BpfInstruction.Misc | BpfInstruction.Tax, 0, 0, 0));
                    LoadWord(second, w, slot, code);
                }
                else
                {
                    if (slot >= ScratchSlots) throw TooDeep();
                    code.Add(new BpfInstruction(BpfInstruction.St, 0, 0, (uint)slot));
                    LoadWord(second, w, slot + 1, code);
                    code.Add(new BpfInstruction(BpfInstruction.Ldx | BpfInstruction.Mem, 0, 0, (uint)slot));
                }
                code.Add(new BpfInstruction((ushort)(BpfInstruction.Alu | alu | BpfInstruction.X_), 0, 0, 0));
                return;
            default:
                throw new PolicyException($"unsupported argument expression {e}");
        }
    }

    private static PolicyException TooDeep() =>
        new($"an argument expression needs more than the {ScratchSlots} BPF scratch slots seccomp has; simplify it");

    /// <summary>One word of the two sides compared with one jump, after computing the words (A = left, X or K = right).</summary>
    private int EmitWordJump(ArgExpr left, ArgExpr right, Word w, ushort op, int ifTrue, int ifFalse)
    {
        if (ifTrue == ifFalse) return ifTrue;
        uint? lc = WordConst(left, w), rc = WordConst(right, w);
        if (lc is uint lk && rc is uint rk)
            return (op switch { BpfInstruction.Jeq => lk == rk, BpfInstruction.Jgt => lk > rk, _ => lk >= rk }) ? ifTrue : ifFalse;
        if (lc is not null)
        {
            // k > x  ==  !(x >= k);  k >= x  ==  !(x > k);  == is symmetric
            (left, right, rc) = (right, left, lc);
            if (op == BpfInstruction.Jgt) { op = BpfInstruction.Jge; (ifTrue, ifFalse) = (ifFalse, ifTrue); }
            else if (op == BpfInstruction.Jge) { op = BpfInstruction.Jgt; (ifTrue, ifFalse) = (ifFalse, ifTrue); }
        }
        int before = Here;
        int next = rc is uint k ? EmitKJump(op, k, ifTrue, ifFalse) : EmitXJump(op, ifTrue, ifFalse);
        if (next < before) return next;   // decided without looking at the arguments
        var code = new List<BpfInstruction>();
        if (rc is not null)
        {
            LoadWord(left, w, 0, code);
        }
        else if (KeepsX(left, w))
        {
            LoadWord(right, w, 0, code);
            code.Add(new BpfInstruction(BpfInstruction.Misc | BpfInstruction.Tax, 0, 0, 0));
            LoadWord(left, w, 0, code);
        }
        else
        {
            LoadWord(right, w, 0, code);
            code.Add(new BpfInstruction(BpfInstruction.St, 0, 0, 0));
            LoadWord(left, w, 1, code);
            code.Add(new BpfInstruction(BpfInstruction.Ldx | BpfInstruction.Mem, 0, 0, 0));
        }
        for (int i = code.Count - 1; i >= 0; i--) next = Emit(code[i]);
        return next;
    }

    private int EmitKJump(ushort op, uint k, int ifTrue, int ifFalse)
    {
        if (op == BpfInstruction.Jge && k == 0) return ifTrue;
        if (op == BpfInstruction.Jgt && k == uint.MaxValue) return ifFalse;
        return EmitJump(op, k, ifTrue, ifFalse);
    }

    private int EmitXJump(ushort op, int ifTrue, int ifFalse)
    {
        if (ifTrue == ifFalse) return ifTrue;
        while (Distance(ifTrue) > byte.MaxValue || Distance(ifFalse) > byte.MaxValue)
        {
            if (Distance(ifTrue) > byte.MaxValue) ifTrue = EmitJumpAlways(ifTrue);
            else ifFalse = EmitJumpAlways(ifFalse);
        }
        return Emit(new BpfInstruction((ushort)(BpfInstruction.Jmp | op | BpfInstruction.X_), (byte)Distance(ifTrue), (byte)Distance(ifFalse), 0));
    }
}
