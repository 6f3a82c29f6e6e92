using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Cli;

/// <summary>
/// Where <c>--result</c> goes: a file, checked (and a temporary file beside it created) before the sandbox starts, or
/// standard error ("-"). The file may sit in a directory a sandbox can write (a <c>--bind</c> of it), where an earlier
/// sandbox could have planted <c>result.json -&gt; /etc/shadow</c> or a link in a parent directory; the tool may be
/// root. So nothing here follows a link a sandbox could have made: the directory is resolved by <see cref="HostPath"/>
/// (only root's symlinks are followed), an existing FILE must be a regular file owned by the caller (a symlink, a FIFO, a
/// directory or someone else's file is refused, naming it), and the result is written to a new temporary file in that
/// directory (<c>O_CREAT|O_EXCL|O_NOFOLLOW</c>) which is then renamed over FILE: rename replaces the name, never writes
/// through it, so whatever FILE has become by then, no other file is touched.
/// </summary>
internal sealed class ResultDestination : IDisposable
{
    private readonly SafeFdHandle? _dir;
    private readonly string _name = "", _shown = "";
    private SafeFileHandle? _temp;
    private string? _tempName;

    private ResultDestination() { }

    private ResultDestination(SafeFdHandle dir, string name, string shown)
    {
        _dir = dir;
        _name = name;
        _shown = shown;
    }

    /// <summary>Opens <paramref name="spec"/> for writing as the class summary says; a file that cannot or must not be
    /// written is a command-line error naming why.</summary>
    public static ResultDestination Open(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec == "-") return new ResultDestination();
        string full = Path.GetFullPath(spec);
        string name = Path.GetFileName(full);
        string parent = Path.GetDirectoryName(full) ?? "/";
        if (name.Length == 0) throw new CommandLineException($"--result {spec}: not a file name");
        var dir = HostPath.TryOpen(parent, out string? error);
        if (dir is null) throw new CommandLineException($"--result {spec}: its directory {error}");
        if (!dir.IsDirectory)
        {
            dir.Dispose();
            throw new CommandLineException($"--result {spec}: {parent} is not a directory");
        }
        var result = new ResultDestination(dir.Fd, name, spec);
        try
        {
            result.CheckExisting();
            result.CreateTemp();
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>An existing FILE must be a regular file owned by the caller (not a link: it is not followed).</summary>
    private void CheckExisting()
    {
        int fd = Interop.OpenAt(_dir!, _name, Interop.O_PATH | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 2) return; // ENOENT: it will be created
            throw new CommandLineException($"--result {_shown}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        using var handle = new SafeFdHandle(fd);
        if (Interop.FStat(handle, out var st) != 0)
            throw new CommandLineException($"--result {_shown}: fstat: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        uint kind = st.Mode & Interop.S_IFMT;
        if (kind == Interop.S_IFLNK)
            throw new CommandLineException($"--result {_shown}: is a symbolic link (-> {HostPath.ReadLink(handle) ?? "?"}): refused, it is not followed (a sandbox could have planted it); remove it or name another file");
        if (kind != Interop.S_IFREG)
            throw new CommandLineException($"--result {_shown}: is not a regular file: refused");
        uint me = Interop.GetEUid();
        if (st.Uid != me)
            throw new CommandLineException($"--result {_shown}: is owned by uid {st.Uid.ToString(CultureInfo.InvariantCulture)}, not by you (uid {me.ToString(CultureInfo.InvariantCulture)}): refused; remove it or name another file");
    }

    private void CreateTemp()
    {
        for (int attempt = 0; ; attempt++)
        {
            string temp = $".{_name}.{Interop.GetRandomUInt64():x16}.tmp";
            int fd = Interop.OpenAt(_dir!, temp, Interop.O_WRONLY | Interop.O_CREAT | Interop.O_EXCL | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, 0b110_110_110);
            if (fd >= 0)
            {
                _temp = new SafeFileHandle(fd, ownsHandle: true);
                _tempName = temp;
                return;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != 17 || attempt >= 8) // EEXIST: try another name
                throw new CommandLineException($"--result {_shown}: cannot write it: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Writes <paramref name="result"/>: to standard error, or to the temporary file, then renamed over FILE.
    /// A failure is reported on standard error (the run's exit status stands).</summary>
    public void Write(ResultJson result)
    {
        ArgumentNullException.ThrowIfNull(result);
        string json = result.ToJson();
        if (_dir is null)
        {
            Console.Error.Write(json);
            Console.Error.Flush();
            return;
        }
        try
        {
            if (_temp is null) CreateTemp();
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(json);
            RandomAccess.SetLength(_temp!, 0);
            RandomAccess.Write(_temp!, bytes, 0);
            _temp!.Dispose();
            _temp = null;
            if (Interop.RenameAt(_dir, _tempName!, _dir, _name) != 0)
                throw new IOException(Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            _tempName = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CommandLineException)
        {
            global::Sandbox2.Cli.Program.Error($"--result {_shown}: cannot write it: {ResultJson.OneLine(e.Message)}");
        }
    }

    /// <summary>Closes the directory; a temporary file never renamed is removed.</summary>
    public void Dispose()
    {
        _temp?.Dispose();
        if (_tempName is not null && _dir is not null) _ = Interop.UnlinkAt(_dir, _tempName, 0);
        _tempName = null;
        _dir?.Dispose();
    }
}
