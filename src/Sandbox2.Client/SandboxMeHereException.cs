namespace Sandbox2.Client;

/// <summary>
/// <see cref="SandboxClient.SandboxMeHere"/> could not sandbox the process. No filter is in force
/// (the reason was also sent to the executor, which should stop the program).
/// </summary>
public sealed class SandboxMeHereException : Exception
{
    /// <summary>SandboxMeHere failed for <paramref name="message"/> (one line); <paramref name="threadId"/> and <paramref name="threadName"/> name the thread the filter could not reach, when that was the cause.</summary>
    public SandboxMeHereException(string message, int? threadId = null, string? threadName = null) : base(message)
    {
        ThreadId = threadId;
        ThreadName = threadName;
    }

    /// <summary>The thread the filter could not be synchronised to, when known.</summary>
    public int? ThreadId { get; }
    /// <summary>Its name (/proc/self/task/TID/comm).</summary>
    public string? ThreadName { get; }
}
