namespace Sandbox2;

/// <summary>A policy (builder call, policy file or compiled program) is invalid. The message names the problem.</summary>
public class PolicyException : Exception
{
    /// <summary>A policy error described by <paramref name="message"/> (one line naming the problem).</summary>
    public PolicyException(string message) : base(message) { }
    /// <summary>A policy error caused by <paramref name="inner"/>.</summary>
    public PolicyException(string message, Exception inner) : base(message, inner) { }
    /// <summary>A policy error without a message.</summary>
    public PolicyException() { }
}
