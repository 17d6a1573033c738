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

    /// <summary>
    /// Reads an (unescaped) request path; a model segment that is empty or has a slash is not a
    /// model. Runs for every request the gateway admits and every one the services trace, so it
    /// reads the path in place: the model's name is the only string it makes.
    /// </summary>
    public static ServingPath Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var trimmed = path.AsSpan().Trim('/');
        // Seven slots: a path of seven segments or more is none of the calls (the last slot holds the rest).
        Span<Range> ranges = stackalloc Range[7];
        var count = trimmed.Split(ranges, '/');
        if (count < 3)
        {
            return new(ServingCall.Other, null);
        }

        var version = trimmed[ranges[0]];
        if (version is not ("v1" or "v2") || trimmed[ranges[1]] is not "models")
        {
            return new(ServingCall.Other, null);
        }

        var model = trimmed[ranges[2]];
        var v1 = version is "v1";
        const string PredictSuffix = ":predict";
        if (v1 && count == 3 && model.EndsWith(PredictSuffix, StringComparison.Ordinal) && model.Length > PredictSuffix.Length)
        {
            return new(ServingCall.Predict, model[..^PredictSuffix.Length].ToString());
        }

        if (model.Length > 0)
        {
            if (v1 && count == 4 && trimmed[ranges[3]] is "feedback")
            {
                return new(ServingCall.Feedback, model.ToString());
            }

            if (!v1 && count == 4 && trimmed[ranges[3]] is "infer")
            {
                return new(ServingCall.Infer, model.ToString());
            }

            if (!v1 && count == 6 && trimmed[ranges[3]] is "versions" && trimmed[ranges[4]].Length > 0 && trimmed[ranges[5]] is "infer")
            {
                return new(ServingCall.InferVersion, model.ToString());
            }
        }

        var name = model[..(model.IndexOf(':') is var colon and >= 0 ? colon : model.Length)];
        return new(ServingCall.Other, name.Length > 0 ? name.ToString() : null);
    }
}
