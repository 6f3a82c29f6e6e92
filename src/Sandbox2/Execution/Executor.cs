namespace Sandbox2;

// STUB (owned by the execution work).
/// <summary>Describes how to start one sandboxee (1:1 with a <see cref="Sandbox"/>).</summary>
public sealed class Executor
{
    public Executor(string path, IReadOnlyList<string>? args = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        Path = path; Args = args ?? []; Environment = environment;
    }
    public string Path { get; }
    public IReadOnlyList<string> Args { get; }
    public IReadOnlyDictionary<string, string>? Environment { get; }
    public Limits Limits { get; set; } = new();
}
