using Sandbox2.Bpf;
using Sandbox2.Tests.Policy;
using static Sandbox2.Bpf.BpfInstruction;

namespace Sandbox2.Tests.Bpf;

/// <summary>The interpreter beyond what the compiler emits (scratch memory, X register, ALU), checked against the
/// kernel: the same hand-written program decides the same in both.</summary>
public class InterpreterTests
{
    private const int Getppid = 110;
    private static BpfInstruction I(ushort code, uint k = 0, byte jt = 0, byte jf = 0) => new(code, jt, jf, k);

    /// <summary>ERRNO(((args[0].low + 3) * 5 - 1) ^ 0x30 >> 1 &amp; 0xfff) via M[], X, tax/txa.</summary>
    private static readonly BpfProgram Arithmetic = new([
        LoadAbsolute(SeccompData.ArgsOffset),
        I(St, 3),
        I(Ldx | Imm, 3),
        I(Ld | Mem, 3),
        I(Alu | Add | X_),
        I(Alu | Mul | K_, 5),
        I(Alu | Sub | K_, 1),
        I(Alu | Xor | K_, 0x30),
        I(Alu | Rsh | K_, 1),
        I(Alu | And | K_, 0x7ff),
        I(Misc | Tax),
        I(Ld | Imm, 1),
        I(Alu | Add | X_),
        I(Misc | Txa),
        I(Jmp | Jeq | K_, 0, 1, 0),
        Return(SeccompReturn.Allow),
        I(Alu | Or | K_, SeccompReturn.Errno),
        I(Ret | A_),
    ]);

    /// <summary>A / args[0].low with X = args[0].low: a zero divisor ends the program with 0 (KILL_THREAD).</summary>
    private static readonly BpfProgram Division = new([
        LoadAbsolute(SeccompData.ArgsOffset),
        I(Misc | Tax),
        I(Ld | Imm, 1000),
        I(Alu | Div | X_),
        I(Alu | Or | K_, SeccompReturn.Errno),
        I(Ret | A_),
    ]);

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(7UL)]
    [InlineData(0x12345UL)]
    [InlineData(0xffff_fffdUL)]
    [InlineData(0x5_0000_0009UL)]
    public void ArithmeticAgreesWithTheKernel(ulong arg) => Agree(Arithmetic, arg);

    /// <summary>1000 - X, shifts by X (the kernel masks a shift by X to 0..31), neg.</summary>
    private static readonly BpfProgram ShiftsByX = new([
        LoadAbsolute(SeccompData.ArgsOffset),
        I(Misc | Tax),
        I(Ld | Imm, 1000),
        I(Alu | Sub | X_),
        I(Alu | Lsh | X_),
        I(Alu | Neg),
        I(Alu | Rsh | X_),
        I(Alu | And | K_, 0xfff),
        I(Alu | Or | K_, SeccompReturn.Errno),
        I(Ret | A_),
    ]);

    [Theory]
    [InlineData(0UL)]
    [InlineData(3UL)]
    [InlineData(1001UL)]
    public void DivisionByZeroAgreesWithTheKernel(ulong arg) => Agree(Division, arg);

    [Theory]
    [InlineData(0UL)]
    [InlineData(3UL)]
    [InlineData(7UL)]
    [InlineData(33UL)]
    [InlineData(100UL)]
    public void ShiftsByXAgreeWithTheKernel(ulong arg) => Agree(ShiftsByX, arg);

    private static void Agree(BpfProgram program, ulong arg)
    {
        ulong[] args = [arg];
        uint predicted = program.Run(new SeccompData(Getppid, SeccompReturn.AuditArchX86_64, args));
        var live = SeccompRunner.Run(program, Getppid, args);
        var expected = LiveOutcome.Expected(predicted, SeccompRunner.Run(null, Getppid, args));
        Assert.True(expected.Matches(live), $"arg 0x{arg:x}: interpreter {SeccompReturn.Describe(predicted)}, kernel {live}");
    }

    [Fact]
    public void ProgramsTheKernelRejectsAreRejected()
    {
        void Bad(string mention, params BpfInstruction[] insns)
        {
            var e = Assert.Throws<PolicyException>(() => new BpfProgram(insns).Run(new SeccompData(0, 0, [])));
            Assert.Contains(mention, e.Message, StringComparison.Ordinal);
        }
        Bad("end with a return", LoadAbsolute(0));
        Bad("outside seccomp_data", LoadAbsolute(64), Return(0));
        Bad("outside seccomp_data", LoadAbsolute(2), Return(0));
        Bad("32-bit absolute loads", I(Ld | H | Abs, 0), Return(0));
        Bad("division by a constant 0", I(Alu | Div | K_, 0), Return(0));
        Bad("does not accept mod", I(Alu | Mod | K_, 3), Return(0));
        Bad("shift by 32", I(Alu | Lsh | K_, 32), Return(0));
        Bad("past the end", I(Jmp | Jeq | K_, 0, 5, 0), Return(0));
        Bad("past the end", JumpAlways(1), Return(0));
        Bad("scratch slot 16", I(St, 16), Return(0));
        Bad("1..4096", Enumerable.Repeat(Return(0), 4097).ToArray());
        Bad("1..4096");
    }

    [Fact]
    public void KernelAlsoRejectsThem()
    {
        // the same checks, by the kernel: installing these fails with EINVAL
        foreach (var insns in new[]
        {
            new[] { LoadAbsolute(64), Return(0) },
            [I(Alu | Div | K_, 0), Return(0)],
            [I(Alu | Mod | K_, 3), Return(0)],
            [I(Ld | H | Abs, 0), Return(0)],
            [I(Jmp | Jeq | K_, 0, 5, 0), Return(0)],
            [LoadAbsolute(0)],
        })
        {
            var live = SeccompRunner.RunRaw(new BpfProgram(insns).ToBytes(), Getppid, []);
            Assert.Equal("setup-error errno=22", live);
        }
    }
}
