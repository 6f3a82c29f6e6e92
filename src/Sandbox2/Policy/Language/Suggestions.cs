namespace Sandbox2.Language;

/// <summary>Did-you-mean: the closest known name to a misspelt one.</summary>
internal static class Suggestions
{
    /// <summary>The candidate closest to <paramref name="name"/> by edit distance, when close enough to be a typo, else null.</summary>
    public static string? Closest(string name, IEnumerable<string> candidates)
    {
        if (name.Length == 0 || name.Length > 64) return null;
        string? best = null;
        int bestDistance = int.MaxValue;
        int limit = Math.Max(1, Math.Min(3, name.Length / 3));
        foreach (string c in candidates)
        {
            if (Math.Abs(c.Length - name.Length) > limit) continue;
            int d = Distance(name, c);
            if (d < bestDistance || d == bestDistance && string.CompareOrdinal(c, best) < 0) { bestDistance = d; best = c; }
        }
        return bestDistance <= limit ? best : null;
    }

    /// <summary>"did you mean `x'?" or null.</summary>
    public static string? DidYouMean(string name, IEnumerable<string> candidates) =>
        Closest(name, candidates) is { } c ? $"did you mean `{c}'?" : null;

    private static int Distance(string a, string b)
    {
        // Damerau-Levenshtein (optimal string alignment), case-insensitive
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
