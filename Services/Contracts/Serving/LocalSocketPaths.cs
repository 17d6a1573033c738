using System.Text;

namespace Flywheel.Contracts.Serving;

/// <summary>
/// Where a service on this host keeps its Unix socket: the AppHost sets the folder up, the service
/// listens there and the gateway connects there (ServiceDefaults' <c>LocalSockets</c>). The socket
/// of the service on TCP port P is <c>{folder}/P.sock</c>.
/// </summary>
public static class LocalSocketPaths
{
    /// <summary>
    /// Longest socket path, in bytes: a Unix socket address holds 108 bytes on Linux, the
    /// terminating zero included (104 on macOS; the shorter one is kept).
    /// </summary>
    public const int MaxPathBytes = 103;

    public const string Extension = ".sock";

    /// <summary>Where the service listening on <paramref name="port"/> has its socket.</summary>
    public static string PathFor(string folder, int port) => Path.Combine(folder, $"{port}{Extension}");

    /// <summary>Whether a socket path fits in a Unix socket address.</summary>
    public static bool Fits(string path) => Encoding.UTF8.GetByteCount(path) <= MaxPathBytes;

    /// <summary>Creates the folder, readable by this user only (an existing one is left as it is).</summary>
    public static void CreateFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
