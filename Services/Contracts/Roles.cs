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
}
