namespace Flywheel.Contracts;

/// <summary>
/// How the online feature store is laid out in Redis: one hash per model and entity holding the
/// latest value of each feature (JSON) and the event time they are from. The registry writes it
/// on ingestion; the inference workers read it to fill in features by <c>entity_id</c>.
/// </summary>
public static class OnlineStoreLayout
{
    /// <summary>The hash field holding the stored values' event time (Unix milliseconds).</summary>
    public const string EventTimeField = "_event_time";

    public static string Key(string model, string entity) => $"online:{model}:{entity}";
}
