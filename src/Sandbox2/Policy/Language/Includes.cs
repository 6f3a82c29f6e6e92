namespace Sandbox2.Language;

/// <summary>Finds and reads <c>#include</c>d files: first the including file's directory, then the search paths
/// (<c>-I</c>), in order. At most <see cref="MaxDepth"/> levels (Kafel's limit); a file that includes itself, directly
/// or through others, is reported as a cycle. Only regular files (no devices or FIFOs), at most
/// <see cref="MaxFileSize"/> bytes each and <see cref="MaxTotalSize"/> in all.</summary>
internal sealed class Includes(IReadOnlyList<string> searchPaths)
{
    /// <summary>Kafel's include depth limit.</summary>
    public const int MaxDepth = 16;
    /// <summary>Largest policy file read.</summary>
    public const int MaxFileSize = 4 << 20;
    /// <summary>Most bytes read over all files of one policy.</summary>
    public const long MaxTotalSize = 16 << 20;
    /// <summary>Most files opened for one policy.</summary>
    public const int MaxFiles = 1000;

    private readonly List<string> _stack = [];
    private long _total;
    private int _files;

    /// <summary>Reads the root file <paramref name="path"/>.</summary>
    public SourceFile OpenRoot(string path)
    {
        string full = Path.GetFullPath(path);
        var file = new SourceFile(path, Read(full, path), full);
        _stack.Add(full);
        return file;
    }

    /// <summary>Registers a root given as text (its directory is the current one).</summary>
    public SourceFile Root(string name, string text)
    {
        var file = new SourceFile(name, text, null);
        _total += text.Length;
        return file;
    }

    /// <summary>Opens <paramref name="name"/> included from <paramref name="from"/> at <paramref name="at"/>.</summary>
    public SourceFile Open(string name, SourceFile from, int depth, Location at)
    {
        if (depth > MaxDepth) throw Diagnostics.Error(at, $"maximum include depth ({MaxDepth}) exceeded");
        if (++_files > MaxFiles) throw Diagnostics.Error(at, $"more than {MaxFiles} included files");
        var candidates = new List<string>();
        if (Path.IsPathRooted(name)) candidates.Add(name);
        else
        {
            string baseDir = from.FullPath is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(from.FullPath)!;
            candidates.Add(Path.Combine(baseDir, name));
            candidates.AddRange(searchPaths.Select(p => Path.Combine(p, name)));
        }
        foreach (string candidate in candidates)
        {
            string full = Path.GetFullPath(candidate);
            if (!File.Exists(full)) continue;
            if (_stack.Contains(full, StringComparer.Ordinal))
                throw Diagnostics.Error(at, $"include cycle: `{name}' is already being included ({string.Join(" -> ", _stack.Select(Path.GetFileName))} -> {Path.GetFileName(full)})");
            string text;
            try { text = Read(full, name); }
            catch (PolicyException e) { throw Diagnostics.Error(at, $"could not include file `{name}': {e.Message}"); }
            _stack.Add(full);
            return new SourceFile(candidate, text, full);
        }
        string where = string.Join(", ", candidates.Select(c => Path.GetDirectoryName(Path.GetFullPath(c))).Distinct());
        throw Diagnostics.Error(at, $"could not include file `{name}'",
            searchPaths.Count == 0 ? $"looked in {where}; add a search path with -I DIR" : $"looked in {where}");
    }

    /// <summary>The included file is done.</summary>
    public void Close(SourceFile file)
    {
        if (file.FullPath is not null && _stack.Count > 0 && _stack[^1] == file.FullPath) _stack.RemoveAt(_stack.Count - 1);
    }

    private string Read(string full, string shown)
    {
        // Never open() a FIFO or a device (it could block or act): O_PATH, fstat, then read a regular file only.
        using var opened = RegularFile.TryOpen(full, followLast: true, out string? error)
            ?? throw new PolicyException($"cannot read {shown}: {error}");
        if (opened.Stat.Size > MaxFileSize) throw new PolicyException($"{shown} is larger than {MaxFileSize} bytes");
        _total += opened.Stat.Size;
        if (_total > MaxTotalSize) throw new PolicyException($"the policy and its includes are larger than {MaxTotalSize} bytes");
        using var stream = new FileStream(opened.Handle, FileAccess.Read, 1);
        var buffer = new byte[(int)Math.Min(opened.Stat.Size, MaxFileSize) + 1];
        int n = 0, got;
        while (n < buffer.Length && (got = stream.Read(buffer, n, buffer.Length - n)) > 0) n += got;
        if (n > MaxFileSize || n == buffer.Length && n > opened.Stat.Size) throw new PolicyException($"{shown} changed while it was read");
        return new System.Text.UTF8Encoding(false, false).GetString(buffer, 0, n);
    }
}
