namespace Sandbox2;

/// <summary>A policy (builder call, policy file or compiled program) is invalid. The message names the problem.</summary>
public class PolicyException : Exception
{
    public PolicyException(string message) : base(message) { }
    public PolicyException(string message, Exception inner) : base(message, inner) { }
    public PolicyException() { }
}
