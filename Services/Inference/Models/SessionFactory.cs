using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Flywheel.Inference.Models;

/// <summary>
/// Creates the ONNX Runtime sessions a worker serves, on CUDA where the whole model can run
/// there and on the CPU otherwise, and says which. CUDA is asked for once per process: when its
/// libraries (CUDA 13, cuDNN 9) are missing the provider cannot be appended, and they do not
/// appear while the process runs. A model is put on CUDA only when every node has a CUDA kernel
/// (<c>session.disable_cpu_ep_fallback</c>): a model split across the two providers copies its
/// tensors between host and device at each boundary, which for small tabular batches costs more
/// than the work — and the tree ensembles and other <c>ai.onnx.ml</c> operators that ML.NET
/// exports have no CUDA kernels at all, so those models serve on the CPU even on a GPU machine.
/// </summary>
public sealed partial class SessionFactory(IOptions<InferenceOptions> options, ILogger<SessionFactory> logger)
{
    public const string CudaProvider = "CUDAExecutionProvider";
    public const string CpuProvider = "CPUExecutionProvider";

    /// <summary>Warm-up runs per batch shape before a version serves.</summary>
    public const int WarmUpRuns = 5;

    private readonly InferenceOptions _options = options.Value;
    private volatile bool _cudaUnavailable;

    /// <summary>
    /// A session for the model at <paramref name="path"/>, with the options it keeps (dispose both,
    /// session first) and the provider that runs it.
    /// </summary>
    /// <param name="what">Names the model in the log, e.g. "card-fraud v3".</param>
    public (InferenceSession Session, SessionOptions Options, string Provider) Create(string path, string what)
    {
        if (_options.UseCuda && !_cudaUnavailable)
        {
            var cudaOptions = BaseOptions();
            try
            {
                cudaOptions.AppendExecutionProvider_CUDA(0);
            }
            catch (Exception exception) when (exception is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                _cudaUnavailable = true;
                LogNoCuda(what, exception.Message);
                cudaOptions.Dispose();
                cudaOptions = null;
            }

            if (cudaOptions is not null)
            {
                cudaOptions.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1");
                try
                {
                    return (new InferenceSession(path, cudaOptions), cudaOptions, CudaProvider);
                }
                catch (OnnxRuntimeException exception)
                {
                    // Most often an operator without a CUDA kernel; a model that is broken outright
                    // fails again just below, on the CPU, with its own error.
                    LogNotAllOnCuda(what, exception.Message);
                    cudaOptions.Dispose();
                }
            }
        }

        var cpuOptions = BaseOptions();
        try
        {
            return (new InferenceSession(path, cpuOptions), cpuOptions, CpuProvider);
        }
        catch
        {
            cpuOptions.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a verified artifact as a servable version: a session (see <see cref="Create"/>) whose
    /// inputs match the schema, with the class names a classifier's outputs are read by.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model does not fit the schema or the ONNX contract.</exception>
    public LoadedVersion Load(string model, int version, string sha256, ModelSchema schema, string path)
    {
        var (session, sessionOptions, provider) = Create(path, $"{model} v{version}");
        LoadedVersion loaded;
        try
        {
            CheckInputs(session, schema);
            var classes = session.ModelMetadata.CustomMetadataMap.TryGetValue(OnnxModelContract.ClassesMetadata, out var json)
                ? JsonSerializer.Deserialize<string[]>(json) ?? []
                : [];
            if (schema.Task == ModelTask.Binary && classes.Length != 2)
            {
                throw new InvalidOperationException($"A binary model must name two classes in '{OnnxModelContract.ClassesMetadata}'; this one names {classes.Length}.");
            }

            // The model says which inputs it was trained on as buckets; it is fed as it was trained.
            IReadOnlySet<string> bucketed;
            try
            {
                bucketed = OnnxModelContract.BucketedFeatures(session.ModelMetadata.CustomMetadataMap);
            }
            catch (InvalidDataException error)
            {
                throw new InvalidOperationException(error.Message, error);
            }

            if (schema.Features.Where(f => FeatureValues.IsBucketed(f) && !bucketed.Contains(f.Name)).Select(f => f.Name).ToArray() is { Length: > 0 } raw)
            {
                // Trained before PII buckets: it takes the values, and serves as it was trained.
                LogPiiValuesInModel(model, version, string.Join(", ", raw));
            }

            loaded = new LoadedVersion(model, version, sha256, schema, session, sessionOptions, provider, classes, bucketed);
        }
        catch
        {
            session.Dispose();
            sessionOptions.Dispose();
            throw;
        }

        try
        {
            WarmUp(loaded);
        }
        catch
        {
            // The version owns its session now: retiring it disposes everything it holds.
            loaded.Retire();
            throw;
        }

        LogLoaded(model, version, provider, sha256);
        return loaded;
    }

    /// <summary>
    /// Scores a few rows of plain values (each feature's minimum or zero, its first category,
    /// false) before the version takes traffic. A session's first runs allocate its arena and
    /// kernels, which made a new canary's first seconds several times slower than production
    /// and a latency comparison judge the warm-up instead of the model; and a model that cannot
    /// score a valid row is refused here rather than failing requests.
    /// </summary>
    private void WarmUp(LoadedVersion loaded)
    {
        var row = loaded.Schema.Features.ToDictionary(
            feature => feature.Name,
            feature => (object?)(feature.Type switch
            {
                FeatureType.Numeric => feature.Min ?? 0.0,
                FeatureType.Categorical => feature.Categories is [var first, ..] ? first : "",
                _ => false,
            }));
        IReadOnlyDictionary<string, object?>[] one = [row];
        var batch = Enumerable.Repeat<IReadOnlyDictionary<string, object?>>(row, 16).ToArray();
        if (!_options.BindCalls)
        {
            LogNotBound(loaded.Model, loaded.Version, "turned off (Flywheel:Inference:BindCalls)");
        }
        else if (loaded.TryBindCalls(CheckRows(loaded.Schema, 16)) is { } reason)
        {
            LogNotBound(loaded.Model, loaded.Version, reason);
        }

        for (var i = 0; i < WarmUpRuns; i++)
        {
            loaded.Score(one);
            loaded.Score(batch);
        }
    }

    /// <summary>
    /// Rows that differ from each other in every feature (numbers across the feature's range,
    /// each category in turn, false and true), so that scoring them two ways and comparing
    /// shows whether each row's answer came back in its place.
    /// </summary>
    private static IReadOnlyDictionary<string, object?>[] CheckRows(ModelSchema schema, int count) =>
        [.. Enumerable.Range(0, count).Select(i => (IReadOnlyDictionary<string, object?>)schema.Features.ToDictionary(
            feature => feature.Name,
            feature => (object?)(feature.Type switch
            {
                FeatureType.Numeric when feature.Min is { } min && feature.Max is { } max => min + ((max - min) * i / Math.Max(1, count - 1)),
                FeatureType.Numeric => (feature.Min ?? 0.0) + i,
                FeatureType.Categorical => feature.Categories is { Count: > 0 } categories ? categories[i % categories.Count] : "",
                _ => i % 2 == 1,
            })))];

    private SessionOptions BaseOptions()
    {
        var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = _options.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        // Many small concurrent batches: threads that spin between them only steal cores from requests.
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return sessionOptions;
    }

    private static void CheckInputs(InferenceSession session, ModelSchema schema)
    {
        foreach (var feature in schema.Features)
        {
            var expected = feature.Type == FeatureType.Categorical ? typeof(string) : typeof(float);
            if (!session.InputMetadata.TryGetValue(OnnxModelContract.InputName(feature.Name), out var input) || input.ElementType != expected)
            {
                throw new InvalidOperationException($"The model has no {expected.Name} input for the feature '{feature.Name}'.");
            }
        }

        if (session.InputMetadata.Count != schema.Features.Count)
        {
            throw new InvalidOperationException($"The model takes {session.InputMetadata.Count} inputs; the schema has {schema.Features.Count} features.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Model} v{Version} on {Provider} (sha256 {Sha256})")]
    private partial void LogLoaded(string model, int version, string provider, string sha256);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Model} v{Version} was trained on the values of its PII feature(s) {Features}, before models took them as buckets: its artifact holds those values. It serves as trained; a version trained now does not hold them")]
    private partial void LogPiiValuesInModel(string model, int version, string features);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Model} v{Version} builds its inputs and outputs for every call: {Reason}")]
    private partial void LogNotBound(string model, int version, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "CUDA is not available (tried for {What}); this worker's sessions use the CPU provider ({Reason})")]
    private partial void LogNoCuda(string what, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{What} does not run wholly on CUDA, so it serves on the CPU provider ({Reason})")]
    private partial void LogNotAllOnCuda(string what, string reason);
}
