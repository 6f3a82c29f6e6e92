namespace Sandbox2;

/// <summary>
/// TLV tags of the Comms wire format (Sandbox2's <c>comms.h</c>). Tags at or above
/// <see cref="FirstReserved"/> are Sandbox2's; user tags must be below it.
/// </summary>
public static class CommsTag
{
    /// <summary>The first tag reserved for Sandbox2's own types (tags at or above it); user tags stay below it.</summary>
    public const uint FirstReserved = 0x80000000;
    /// <summary>A bool (one byte).</summary>
    public const uint Bool = 0x80000001;
    /// <summary>A signed 8-bit integer.</summary>
    public const uint Int8 = 0x80000002;
    /// <summary>An unsigned 8-bit integer.</summary>
    public const uint Uint8 = 0x80000003;
    /// <summary>A signed 16-bit integer.</summary>
    public const uint Int16 = 0x80000004;
    /// <summary>An unsigned 16-bit integer.</summary>
    public const uint Uint16 = 0x80000005;
    /// <summary>A signed 32-bit integer.</summary>
    public const uint Int32 = 0x80000006;
    /// <summary>An unsigned 32-bit integer.</summary>
    public const uint Uint32 = 0x80000007;
    /// <summary>A signed 64-bit integer.</summary>
    public const uint Int64 = 0x80000008;
    /// <summary>An unsigned 64-bit integer.</summary>
    public const uint Uint64 = 0x80000009;
    /// <summary>A UTF-8 string.</summary>
    public const uint String = 0x80000100;
    /// <summary>A byte string.</summary>
    public const uint Bytes = 0x80000101;
    /// <summary>A serialised protobuf message (Sandbox2's kTagProto2).</summary>
    public const uint Proto2 = 0x80000102;
    /// <summary>A barrier (no value).</summary>
    public const uint Barrier = 0x80000103;
    /// <summary>A protocol version (Uint32 value).</summary>
    public const uint Version = 0x80000104;
    /// <summary>A file descriptor (SCM_RIGHTS, empty value).</summary>
    public const uint Fd = 0x80000201;
    /// <summary>Credentials (SCM_CREDENTIALS, empty value).</summary>
    public const uint Creds = 0x80000202;

    /// <summary>A readable name for error messages ("Int32", "user tag 0x00000007", ...).</summary>
    public static string Name(uint tag) => tag switch
    {
        Bool => "Bool",
        Int8 => "Int8",
        Uint8 => "Uint8",
        Int16 => "Int16",
        Uint16 => "Uint16",
        Int32 => "Int32",
        Uint32 => "Uint32",
        Int64 => "Int64",
        Uint64 => "Uint64",
        String => "String",
        Bytes => "Bytes",
        Proto2 => "Proto2",
        Barrier => "Barrier",
        Version => "Version",
        Fd => "Fd",
        Creds => "Creds",
        < FirstReserved => $"user tag 0x{tag:X8}",
        _ => $"unknown tag 0x{tag:X8}",
    };
}
