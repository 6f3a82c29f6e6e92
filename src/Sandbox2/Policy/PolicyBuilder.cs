namespace Sandbox2;

// STUB (owned by the policy-core work). PolicyBuilder.Namespace.cs adds the mount/namespace methods.
/// <summary>Builds a <see cref="Policy"/> with Sandbox2's vocabulary. First matching rule wins.</summary>
public sealed partial class PolicyBuilder
{
    public PolicyBuilder AllowSyscalls(params string[] names) => this;
    public Policy Build()
    {
        var policy = new Policy();
        policy.Namespace = BuildNamespace();
        return policy;
    }
}
