namespace Flywheel.Contracts;

/// <summary>What an API key may do (API.md): the registry authorises /api by them, the gateway the data plane.</summary>
public static class Roles
{
    /// <summary>Everything.</summary>
    public const string Admin = "admin";

    /// <summary>Models, data, training and deployments.</summary>
    public const string Operator = "operator";

    /// <summary>Predict and feedback on the models the key names.</summary>
    public const string Predictor = "predictor";

    /// <summary>
    /// Reads what an operator may read (the audit log, the prediction log, batch results) and
    /// changes nothing: for people who look, such as auditors and on-call readers.
    /// </summary>
    public const string Viewer = "viewer";

    /// <summary>
    /// The console's own service key. Alone it may do nothing; with the signed-in person's name
    /// and roles in <c>X-Flywheel-User</c> / <c>X-Flywheel-User-Roles</c> the request acts as that
    /// person (viewer, operator or admin at most), so the audit log names who did it.
    /// </summary>
    public const string Console = "console";

    /// <summary>The roles a person signed in to the console may hold and the console may pass on.</summary>
    public static readonly IReadOnlyList<string> People = [Viewer, Operator, Admin];
}
