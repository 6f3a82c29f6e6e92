namespace Sandbox2.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true.GetHashCode() == 1);
}
