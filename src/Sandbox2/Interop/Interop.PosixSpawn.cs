using System.Runtime.InteropServices;

namespace Sandbox2;

// posix_spawn(3) and its file actions: starts the forkserver (never System.Diagnostics.Process).
internal static partial class Interop
{
    /// <summary>sizeof(posix_spawn_file_actions_t) on glibc x86-64 is 80; allocate generously.</summary>
    internal const int PosixSpawnFileActionsSize = 256;

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    internal static unsafe partial int PosixSpawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    internal static unsafe partial int PosixSpawnFileActionsInit(void* fileActions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    internal static unsafe partial int PosixSpawnFileActionsAddDup2(void* fileActions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen")]
    internal static unsafe partial int PosixSpawnFileActionsAddOpen(void* fileActions, int fd, byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    internal static unsafe partial int PosixSpawnFileActionsDestroy(void* fileActions);
}
