namespace Flywheel.Core.Serving;

public enum ServingCall
{
    /// <summary>Not a call the gateway knows: no model, no split.</summary>
    Other,

    /// <summary><c>POST /v1/models/{model}:predict</c>: split across the deployment.</summary>
    Predict,

    /// <summary><c>POST /v2/models/{model}/infer</c>: split across the deployment.</summary>
    Infer,

    /// <summary><c>POST /v2/models/{model}/versions/{version}/infer</c>: the caller chose the version; no split.</summary>
    InferVersion,

    /// <summary><c>POST /v1/models/{model}/feedback</c>.</summary>
    Feedback,
}

/// <summary>What a data-plane path calls, and on which model.</summary>
public readonly record struct ServingPath(ServingCall Call, string? Model)
{
    /// <summary>Calls whose version the gateway chooses from the deployment.</summary>
    public bool IsSplit => Call is ServingCall.Predict or ServingCall.Infer;

    /// <summary>Reads an (unescaped) request path; a model segment that is empty or has a slash is not a model.</summary>
    public static ServingPath Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var segments = path.Trim('/').Split('/');
        if (segments.Length < 3 || segments[0] is not ("v1" or "v2") || segments[1] != "models")
        {
            return new(ServingCall.Other, null);
        }

        return (segments[0], segments.Length) switch
        {
            ("v1", 3) when segments[2].EndsWith(":predict", StringComparison.Ordinal) && segments[2].Length > ":predict".Length =>
                new(ServingCall.Predict, segments[2][..^":predict".Length]),
            ("v1", 4) when segments[3] == "feedback" && segments[2].Length > 0 => new(ServingCall.Feedback, segments[2]),
            ("v2", 4) when segments[3] == "infer" && segments[2].Length > 0 => new(ServingCall.Infer, segments[2]),
            ("v2", 6) when segments[3] == "versions" && segments[5] == "infer" && segments[2].Length > 0 && segments[4].Length > 0 =>
                new(ServingCall.InferVersion, segments[2]),
            _ => new(ServingCall.Other, ModelOf(segments[2])),
        };
    }

    private static string? ModelOf(string segment)
    {
        var model = segment.Split(':', 2)[0];
        return model.Length > 0 ? model : null;
    }
}
