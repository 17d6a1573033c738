using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Azure.Tests;

/// <summary>
/// Runs a service configured exactly as the Bicep configures it on Azure Container Apps — Blob
/// storage by service URI, PostgreSQL without a password, a user-assigned identity named by
/// AZURE_CLIENT_ID and the platform's managed identity endpoint — against local stand-ins:
/// Azurite in OAuth mode over HTTPS, a local PostgreSQL, and a fake identity endpoint.
/// </summary>
public sealed class IdentityPathTests : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "flywheel-identity-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _postgresPassword = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private readonly int _postgresPort = Ports.Free();
    private readonly int _blobPort = Ports.Free();
    private X509Certificate2 _certificate = null!;
    private LocalProcess _postgres = null!;
    private LocalProcess _azurite = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        var passwordFile = Path.Combine(_work, "postgres.password");
        await File.WriteAllTextAsync(passwordFile, _postgresPassword);
        File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _postgres = LocalProcess.Start("bash", [Repository.Path("AppHost", "local", "postgres.sh"), Path.Combine(_work, "postgres"), $"{_postgresPort}", passwordFile]);

        _certificate = CreateLoopbackCertificate();
        await File.WriteAllTextAsync(CertificateFile, _certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(_work, "key.pem"), _certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var azurite = Repository.Path(".flywheel", "tools", "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js");
        _azurite = LocalProcess.Start("node",
        [
            azurite, "--blobHost", "127.0.0.1", "--blobPort", $"{_blobPort}", "--location", Path.Combine(_work, "azurite"),
            "--oauth", "basic", "--cert", CertificateFile, "--key", Path.Combine(_work, "key.pem"),
            "--skipApiVersionCheck", "--disableTelemetry",
        ]);

        // The database exists on Azure before any service starts (the deployment creates it).
        await using var connection = await OpenWithRetryAsync($"Host=127.0.0.1;Port={_postgresPort};Username=postgres;Password={_postgresPassword};Database=postgres");
        await using var create = new NpgsqlCommand("CREATE DATABASE flywheel", connection);
        await create.ExecuteNonQueryAsync();
    }

    private string CertificateFile => Path.Combine(_work, "cert.pem");

    private string BlobServiceUri => $"https://127.0.0.1:{_blobPort}/devstoreaccount1/";

    [Fact]
    public async Task The_migrator_signs_in_to_Blob_storage_and_PostgreSQL_with_its_managed_identity()
    {
        const string PostgresResource = "https://ossrdbms-aad.database.windows.net";
        var clientId = Guid.NewGuid().ToString();
        // For PostgreSQL the token is what the server checks as the password; the local server's
        // password stands in for an Entra token that Azure Database for PostgreSQL would accept.
        await using var identity = new FakeManagedIdentityEndpoint(resource =>
            resource.StartsWith(PostgresResource, StringComparison.Ordinal) ? _postgresPassword : FakeManagedIdentityEndpoint.StorageToken());

        var configuration = Repository.Metadata("Configuration");
        await using var migrator = LocalProcess.Start(
            "dotnet",
            [Repository.Path("Services", "Migrator", "bin", configuration, "net10.0", "Flywheel.Migrator.dll")],
            new Dictionary<string, string>
            {
                [$"ConnectionStrings__{ResourceNames.Database}"] = $"Host=127.0.0.1;Port={_postgresPort};Username=postgres;Database=flywheel",
                [$"ConnectionStrings__{ResourceNames.Artifacts}"] = BlobServiceUri,
                ["AZURE_CLIENT_ID"] = clientId,
                ["IDENTITY_ENDPOINT"] = identity.Url,
                ["IDENTITY_HEADER"] = identity.Secret,
                // Trust Azurite's self-signed certificate, as a container trusts the platform's CAs.
                ["SSL_CERT_FILE"] = CertificateFile,
                ["DOTNET_ENVIRONMENT"] = "Production",
                ["Flywheel__Database__Principals"] = "id-registry,id-inference",
            });

        Assert.True(await migrator.WaitForExitAsync(TimeSpan.FromMinutes(2)), "the migrator did not finish:\n" + migrator.Output);
        Assert.True(migrator.ExitCode == 0, $"the migrator failed ({migrator.ExitCode}):\n{migrator.Output}");

        var requests = identity.Requests.ToList();
        Assert.Contains(requests, r => r.Resource.StartsWith("https://storage.azure.com", StringComparison.Ordinal) && r.ClientId == clientId);
        Assert.Contains(requests, r => r.Resource.StartsWith(PostgresResource, StringComparison.Ordinal) && r.ClientId == clientId);

        // What it did with those identities is really there.
        await using var connection = await OpenWithRetryAsync($"Host=127.0.0.1;Port={_postgresPort};Username=postgres;Password={_postgresPassword};Database=flywheel");
        await using var history = new NpgsqlCommand("SELECT count(*) FROM public.schema_migrations", connection);
        Assert.True((long)(await history.ExecuteScalarAsync())! >= 1);
        foreach (var principal in new[] { "id-registry", "id-inference" })
        {
            await using var rights = new NpgsqlCommand(
                "SELECT has_schema_privilege($1, 'registry', 'USAGE'), has_schema_privilege($1, 'registry', 'CREATE'), has_database_privilege($1, 'flywheel', 'CONNECT')",
                connection);
            rights.Parameters.Add(new NpgsqlParameter { Value = principal });
            await using var reader = await rights.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.GetBoolean(0), $"{principal} cannot use the registry schema");
            Assert.False(reader.GetBoolean(1), $"{principal} may create objects in the registry schema");
            Assert.True(reader.GetBoolean(2), $"{principal} cannot connect");
        }

        var blobs = new BlobServiceClient(new Uri(BlobServiceUri), new StaticToken(FakeManagedIdentityEndpoint.StorageToken()), TrustingOptions());
        var containers = new List<string>();
        await foreach (var container in blobs.GetBlobContainersAsync())
        {
            containers.Add(container.Name);
        }

        Assert.Equal(BlobContainers.All.Order(), containers.Order());
    }

    [Fact]
    public async Task Blob_storage_refuses_a_service_uri_client_without_a_valid_token()
    {
        var blobs = new BlobServiceClient(new Uri(BlobServiceUri), new StaticToken("not-a-token"), TrustingOptions());

        var error = await Assert.ThrowsAsync<global::Azure.RequestFailedException>(async () =>
            await blobs.GetBlobContainerClient(BlobContainers.Models).CreateIfNotExistsAsync());

        Assert.Equal(403, error.Status);
        Assert.Equal("AuthenticationFailed", error.ErrorCode);
    }

    private BlobClientOptions TrustingOptions()
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
                errors == SslPolicyErrors.None || certificate?.Thumbprint == _certificate.Thumbprint,
        };
        return new BlobClientOptions { Transport = new HttpClientTransport(handler) };
    }

    private static X509Certificate2 CreateLoopbackCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static async Task<NpgsqlConnection> OpenWithRetryAsync(string connectionString)
    {
        for (var attempt = 1; ; attempt++)
        {
            var connection = new NpgsqlConnection(connectionString);
            try
            {
                await connection.OpenAsync();
                return connection;
            }
            catch (NpgsqlException) when (attempt < 60)
            {
                await connection.DisposeAsync();
                await Task.Delay(500);
            }
        }
    }

    public async Task DisposeAsync()
    {
        await _azurite.DisposeAsync();
        await _postgres.DisposeAsync();
        _certificate.Dispose();
        var clusterHome = Path.Combine(_work, "postgres", "cluster.home");
        if (File.Exists(clusterHome) && File.ReadAllText(clusterHome).Trim() is { Length: > 0 } home && !home.StartsWith(_work, StringComparison.Ordinal))
        {
            Directory.Delete(home, recursive: true);
        }

        Directory.Delete(_work, recursive: true);
    }

    private sealed class StaticToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
