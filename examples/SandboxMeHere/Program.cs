// A C# program in Sandbox2's "sandbox after start" mode (sandbox2 run --sandbox-after-start):
// it starts unfiltered, opens its input, then calls SandboxMeHere(), which installs the
// executor's policy on every thread of the process (the runtime's too) with TSYNC. From then on
// it works on what it already holds; trying to open anything else is a policy violation.
//
//   Sandbox2.Examples.SandboxMeHere INPUT [--then-open PATH]
//
// It reports over Comms (fd 1023): Int64 words, Int64 lines. With --then-open it afterwards tries
// to open PATH, which a policy without openat stops (the process is killed: a violation).
using System.Text;
using Sandbox2;
using Sandbox2.Client;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Sandbox2.Examples.SandboxMeHere INPUT [--then-open PATH]");
    return 2;
}

// 1. Setup, unsandboxed: open the input and warm up everything used later. A .NET program loads
//    assemblies lazily (that needs openat), so touch the code paths before sandboxing.
using var input = new StreamReader(File.OpenRead(args[0]), Encoding.UTF8);
using var client = new SandboxClient();
_ = CountWords("warm up\n");

// 2. Sandbox every thread of this process.
client.SandboxMeHere();

// 3. Work on what we hold, report over Comms.
var (words, lines) = CountWords(input.ReadToEnd());
client.Comms.SendInt64(words);
client.Comms.SendInt64(lines);

// 4. Anything else is out of bounds now.
if (args.Length >= 3 && args[1] == "--then-open")
{
    using var other = File.OpenRead(args[2]); // a violation under a policy without openat
    client.Comms.SendString("opened " + args[2]);
}
return 0;

static (long Words, long Lines) CountWords(string text)
{
    long words = 0, lines = 0;
    bool inWord = false;
    foreach (char c in text)
    {
        if (c == '\n') lines++;
        bool space = char.IsWhiteSpace(c);
        if (!space && !inWord) words++;
        inWord = !space;
    }
    return (words, lines);
}
