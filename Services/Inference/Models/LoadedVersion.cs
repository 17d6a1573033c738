using System.Buffers;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Microsoft.ML.OnnxRuntime;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Flywheel.Inference.Models;

/// <summary>
/// One hash-verified version with its ONNX Runtime session, shared by every request for it
/// (<c>Run</c> is safe to call concurrently). Requests hold a lease while they use it; once the
/// version is retired (no deployment names it, or a newer set replaced it) the session is disposed
/// when the last lease ends, never under a request in flight.
/// </summary>
public sealed class LoadedVersion
{
    private readonly SessionOptions _options;
    private readonly RunOptions _run = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly FeatureDefinition[] _features;
    private int _leases = 1;

    internal LoadedVersion(string model, int version, string sha256, ModelSchema schema, InferenceSession session, SessionOptions options, string provider, IReadOnlyList<string> classes)
    {
        Model = model;
        Version = version;
        Sha256 = sha256;
        Schema = schema;
        Session = session;
        _options = options;
        Provider = provider;
        Classes = classes;
        _features = [.. schema.Features];
        _inputNames = [.. _features.Select(f => OnnxModelContract.InputName(f.Name))];
        _outputNames = schema.Task switch
        {
            ModelTask.Binary => [OnnxModelContract.PredictedLabelOutput, OnnxModelContract.ScoreOutput, OnnxModelContract.ProbabilityOutput],
            ModelTask.Multiclass => [OnnxModelContract.PredictedLabelOutput, OnnxModelContract.ScoreOutput],
            _ => [OnnxModelContract.ScoreOutput],
        };
    }

    public string Model { get; }

    public int Version { get; }

    public string Sha256 { get; }

    public ModelSchema Schema { get; }

    public InferenceSession Session { get; }

    /// <summary>The execution provider the session was created with (CUDAExecutionProvider or CPUExecutionProvider).</summary>
    public string Provider { get; }

    public IReadOnlyList<string> Classes { get; }

    public IReadOnlyList<string> OutputNames => _outputNames;

    /// <summary>Set once by whoever serves the version; scoring goes through it.</summary>
    internal Serving.Batcher? Batcher { get; set; }

    public bool Retired => Volatile.Read(ref _leases) == 0;

    /// <summary>Requests holding a lease now (the loader's own reference aside, while the version serves).</summary>
    public int ActiveRequests => Math.Max(0, Volatile.Read(ref _leases) - 1);

    /// <summary>A lease for one request; false once the version is retired and draining.</summary>
    public bool TryAcquire()
    {
        var current = Volatile.Read(ref _leases);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _leases, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
        {
            Dispose();
        }
    }

    /// <summary>Gives up the loader's own reference: the session goes when the last request using it is done.</summary>
    public void Retire() => Release();

    /// <summary>One ONNX Runtime call for all the rows, inputs built from pooled buffers.</summary>
    public ScoredRow[] Score(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        var count = rows.Count;
        long[] shape = [count, 1];
        var inputs = new OrtValue[_features.Length];
        var rented = new float[]?[_features.Length];
        try
        {
            for (var j = 0; j < _features.Length; j++)
            {
                var name = _features[j].Name;
                if (_features[j].Type == FeatureType.Categorical)
                {
                    var strings = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
                    inputs[j] = strings;
                    for (var i = 0; i < count; i++)
                    {
                        strings.StringTensorSetElementAt(FeatureValues.ToText(rows[i].GetValueOrDefault(name)).AsSpan(), i);
                    }
                }
                else
                {
                    var buffer = ArrayPool<float>.Shared.Rent(count);
                    rented[j] = buffer;
                    for (var i = 0; i < count; i++)
                    {
                        buffer[i] = FeatureValues.ToFloat(rows[i].GetValueOrDefault(name));
                    }

                    inputs[j] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, count), shape);
                }
            }

            using var results = Session.Run(_run, _inputNames, inputs, _outputNames);
            return Read(results, count);
        }
        finally
        {
            foreach (var input in inputs)
            {
                input?.Dispose();
            }

            foreach (var buffer in rented)
            {
                if (buffer is not null)
                {
                    ArrayPool<float>.Shared.Return(buffer);
                }
            }
        }
    }

    private ScoredRow[] Read(IReadOnlyList<OrtValue> results, int count)
    {
        var scored = new ScoredRow[count];
        switch (Schema.Task)
        {
            case ModelTask.Binary:
                {
                    var labels = results[0].GetTensorDataAsSpan<bool>();
                    var scores = results[1].GetTensorDataAsSpan<float>();
                    var probabilities = results[2].GetTensorDataAsSpan<float>();
                    for (var i = 0; i < count; i++)
                    {
                        scored[i] = new ScoredRow(FeatureValues.Box(labels[i]), [scores[i]], probabilities[i]);
                    }

                    break;
                }

            case ModelTask.Multiclass:
                {
                    var scores = results[1].GetTensorDataAsSpan<float>();
                    var width = scores.Length / count;
                    for (var i = 0; i < count; i++)
                    {
                        scored[i] = new ScoredRow(results[0].GetStringElement(i), scores.Slice(i * width, width).ToArray(), null);
                    }

                    break;
                }

            default:
                {
                    var scores = results[0].GetTensorDataAsSpan<float>();
                    for (var i = 0; i < count; i++)
                    {
                        scored[i] = new ScoredRow(null, [scores[i]], null);
                    }

                    break;
                }
        }

        return scored;
    }

    private void Dispose()
    {
        // Queued work has all finished: every request holding a lease has had its answer.
        Batcher?.Complete();
        Session.Dispose();
        _options.Dispose();
        _run.Dispose();
    }
}
