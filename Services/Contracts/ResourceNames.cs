namespace Flywheel.Contracts;

/// <summary>
/// Names of the resources in the distributed app. The AppHost declares them, services resolve
/// connection strings and service-discovery addresses by them, and tests look them up.
/// </summary>
public static class ResourceNames
{
    // Local infrastructure processes (executables or containers).
    public const string Postgres = "postgres";
    public const string Redis = "redis";
    public const string RabbitMq = "rabbitmq";
    public const string Azurite = "azurite";

    // Connection strings the services consume; in publish mode these are filled by the deployment.
    public const string Database = "flywheel-db";
    public const string OnlineStore = "online-store";
    public const string MessageBus = "message-bus";
    public const string Artifacts = "artifacts";

    /// <summary>The bootstrap admin API key (a secret parameter).</summary>
    public const string AdminKey = "admin-key";

    /// <summary>The console's service API key (role <c>console</c>), which acts for the person signed in.</summary>
    public const string ConsoleKey = "console-key";

    /// <summary>The key PII features are pseudonymised under in the prediction log (a secret parameter, read by the inference workers only).</summary>
    public const string PiiKey = "pii-key";

    /// <summary>The password of the console's local development account <c>admin</c> (local runs only).</summary>
    public const string ConsoleAdminPassword = "console-admin";

    // Services.
    public const string Migrator = "migrator";
    public const string Gateway = "gateway";
    public const string Registry = "registry";
    public const string Inference = "inference";
    public const string Orchestrator = "orchestrator";
    public const string Trainer = "trainer";
    public const string DriftMonitor = "drift-monitor";
    public const string Console = "console";
}
