using System.Security.Cryptography;

namespace Flywheel.AppHost.Infrastructure;

/// <summary>
/// Passwords for the local services: random, created on first use, kept beside the data they
/// protect (owner-only), so a restart finds the same password the data was created with.
/// </summary>
internal static class LocalSecrets
{
    /// <summary>Azurite's published development account; it only ever listens on loopback.</summary>
    public const string AzuriteAccount = "devstoreaccount1";

    public const string AzuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public static string PasswordFile(string directory, string name)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".password");
        if (!File.Exists(path))
        {
            // Hex keeps it safe inside URIs and config files without escaping.
            var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var file = new FileStream(path, fileOptions);
            using var writer = new StreamWriter(file);
            writer.Write(password);
        }

        return path;
    }

    public static string Read(string passwordFile) => File.ReadAllText(passwordFile).Trim();
}
