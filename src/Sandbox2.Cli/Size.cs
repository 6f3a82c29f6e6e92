using System.Globalization;

namespace Sandbox2.Cli;

/// <summary>Sizes on the command line: a whole number of bytes with an optional binary suffix
/// (<c>k</c>, <c>M</c>, <c>G</c>, <c>T</c>, case-insensitive, optionally followed by <c>B</c> or <c>iB</c>):
/// <c>65536</c>, <c>64k</c>, <c>256M</c>, <c>2G</c>, <c>1.5G</c>.</summary>
internal static class Size
{
    /// <summary>Parses <paramref name="text"/> to bytes; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string text, out ulong bytes, out string error)
    {
        bytes = 0;
        error = $"'{text}' is not a size (use a number of bytes or a number with k, M, G or T, e.g. 256M)";
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        if (s.IsEmpty)
            return false;

        // Strip an optional "B" / "iB" after the unit letter (or a lone "B" for bytes).
        if (s.EndsWith("iB", StringComparison.OrdinalIgnoreCase))
            s = s[..^2];
        else if (s[^1] is 'b' or 'B')
            s = s[..^1];
        if (s.IsEmpty)
            return false;

        ulong multiplier = 1;
        switch (char.ToUpperInvariant(s[^1]))
        {
            case 'K': multiplier = 1UL << 10; s = s[..^1]; break;
            case 'M': multiplier = 1UL << 20; s = s[..^1]; break;
            case 'G': multiplier = 1UL << 30; s = s[..^1]; break;
            case 'T': multiplier = 1UL << 40; s = s[..^1]; break;
        }
        if (s.IsEmpty || !char.IsAsciiDigit(s[0]) || !char.IsAsciiDigit(s[^1]))
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c) && c != '.')
                return false;
        }

        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            return false;
        if (number > (decimal)(ulong.MaxValue / multiplier))
        {
            error = $"'{text}' is too large";
            return false;
        }
        bytes = (ulong)decimal.Floor(number * multiplier);
        error = "";
        return true;
    }
}
