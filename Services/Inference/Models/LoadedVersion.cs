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
    private readonly bool[] _bucketed;
    private readonly BoundCallPool?[] _bound = new BoundCallPool?[MaxBoundRows + 1];
    private volatile bool _bindCalls;
    private int _leases = 1;

    internal LoadedVersion(string model, int version, string sha256, ModelSchema schema, InferenceSession session, SessionOptions options, string provider, IReadOnlyList<string> classes, IReadOnlySet<string> bucketed)
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
        _bucketed = [.. _features.Select(f => bucketed.Contains(f.Name))];
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

    /// <summary>Calls of up to this many rows reuse inputs and outputs bound once (<see cref="BoundCall"/>).</summary>
    public const int MaxBoundRows = 64;

    /// <summary>Whether calls of up to <see cref="MaxBoundRows"/> rows go through inputs and outputs bound once.</summary>
    public bool BindsCalls => _bindCalls;

    /// <summary>
    /// One ONNX Runtime call for all the rows. Up to <see cref="MaxBoundRows"/> rows (once
    /// <see cref="TryBindCalls"/> has checked the model) the call reuses buffers bound to the
    /// session once for that row count; larger calls build their inputs from pooled buffers.
    /// </summary>
    public ScoredRow[] Score(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        if (_bindCalls && rows.Count is > 0 and <= MaxBoundRows)
        {
            return ScoreBound(rows);
        }

        return ScoreUnbound(rows);
    }

    /// <summary>
    /// Scores <paramref name="rows"/> both ways and turns bound calls on only when the answers are
    /// the same, so a model whose outputs do not have the contract's shapes and types keeps
    /// serving through the other path. Null when bound calls are on; otherwise why not.
    /// </summary>
    internal string? TryBindCalls(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        if (Schema.Task == ModelTask.Multiclass)
        {
            return "a multiclass model's labels are strings, which are not bound";
        }

        ScoredRow[] expected;
        try
        {
            expected = ScoreUnbound(rows);
        }
        catch (OnnxRuntimeException exception)
        {
            return $"the rows that check it did not score ({exception.Message})";
        }

        ScoredRow[] actual;
        try
        {
            actual = ScoreBound(rows);
        }
        catch (OnnxRuntimeException exception)
        {
            DisposeBound();
            return exception.Message;
        }

        for (var i = 0; i < expected.Length; i++)
        {
            if (!Equals(expected[i].Label, actual[i].Label) || !Nullable.Equals(expected[i].Probability, actual[i].Probability) || !expected[i].Scores.SequenceEqual(actual[i].Scores))
            {
                DisposeBound();
                return $"row {i} scored differently through bound outputs";
            }
        }

        _bindCalls = true;
        return null;
    }

    private ScoredRow[] ScoreBound(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        var count = rows.Count;
        var pool = Volatile.Read(ref _bound[count]);
        if (pool is null)
        {
            Interlocked.CompareExchange(ref _bound[count], new BoundCallPool(Math.Max(2, Environment.ProcessorCount)), null);
            pool = _bound[count]!;
        }

        var call = pool.Rent() ?? new BoundCall(Session, _features, _inputNames, _outputNames, Schema.Task, count);
        var ok = false;
        try
        {
            var scored = call.Score(Session, _run, _features, _bucketed, rows);
            ok = true;
            return scored;
        }
        finally
        {
            // A failed run leaves its call out of the pool: nothing of it is reused.
            if (!ok || !pool.Return(call))
            {
                call.Dispose();
            }
        }
    }

    private ScoredRow[] ScoreUnbound(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
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
                    SetTexts(strings, name, _bucketed[j], rows);
                }
                else
                {
                    var buffer = ArrayPool<float>.Shared.Rent(count);
                    rented[j] = buffer;
                    SetNumbers(buffer, name, rows);
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
        switch (Schema.Task)
        {
            case ModelTask.Binary:
                return Answers(count, results[0].GetTensorDataAsSpan<bool>(), results[1].GetTensorDataAsSpan<float>(), results[2].GetTensorDataAsSpan<float>());

            case ModelTask.Multiclass:
                {
                    var scores = results[1].GetTensorDataAsSpan<float>();
                    var width = scores.Length / count;
                    var scored = new ScoredRow[count];
                    for (var i = 0; i < count; i++)
                    {
                        scored[i] = new ScoredRow(results[0].GetStringElement(i), scores.Slice(i * width, width).ToArray(), null);
                    }

                    return scored;
                }

            default:
                return Answers(count, default, results[0].GetTensorDataAsSpan<float>(), default);
        }
    }

    /// <summary>A binary model's answers (label, score, probability), or a regression model's (score; no labels given).</summary>
    private static ScoredRow[] Answers(int count, ReadOnlySpan<bool> labels, ReadOnlySpan<float> scores, ReadOnlySpan<float> probabilities)
    {
        var scored = new ScoredRow[count];
        for (var i = 0; i < count; i++)
        {
            scored[i] = labels.IsEmpty
                ? new ScoredRow(null, [scores[i]], null)
                : new ScoredRow(FeatureValues.Box(labels[i]), [scores[i]], probabilities[i]);
        }

        return scored;
    }

    private static void SetNumbers(float[] buffer, string feature, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        for (var i = 0; i < rows.Count; i++)
        {
            buffer[i] = FeatureValues.ToFloat(rows[i].GetValueOrDefault(feature));
        }
    }

    private static void SetTexts(OrtValue strings, string feature, bool bucketed, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        for (var i = 0; i < rows.Count; i++)
        {
            strings.StringTensorSetElementAt(FeatureValues.ToText(rows[i].GetValueOrDefault(feature), bucketed).AsSpan(), i);
        }
    }

    private void DisposeBound()
    {
        _bindCalls = false;
        for (var i = 0; i < _bound.Length; i++)
        {
            Interlocked.Exchange(ref _bound[i], null)?.Dispose();
        }
    }

    private void Dispose()
    {
        // Queued work has all finished: every request holding a lease has had its answer.
        Batcher?.Complete();
        DisposeBound();
        Session.Dispose();
        _options.Dispose();
        _run.Dispose();
    }

    /// <summary>
    /// The inputs and outputs of a call of one row count, bound to the session once and reused:
    /// a call writes its values into the input buffers, runs, and reads the outputs from buffers
    /// that ONNX Runtime wrote in place. A one-row call then costs ONNX Runtime about half of what
    /// creating its seven tensors each time did (docs/benchmarks.md, seventeenth session). Numeric
    /// buffers live on the pinned heap; categorical inputs are string tensors whose elements are
    /// set per call. One call uses it at a time.
    /// </summary>
    private sealed class BoundCall : IDisposable
    {
        private readonly List<OrtValue> _values = [];
        private readonly float[]?[] _numeric;
        private readonly OrtValue?[] _text;
        private readonly bool[]? _labels;
        private readonly float[] _scores;
        private readonly float[]? _probabilities;
        private readonly OrtIoBinding _binding;

        public BoundCall(InferenceSession session, FeatureDefinition[] features, string[] inputNames, string[] outputNames, ModelTask task, int rows)
        {
            long[] shape = [rows, 1];
            _numeric = new float[]?[features.Length];
            _text = new OrtValue?[features.Length];
            _binding = session.CreateIoBinding();
            try
            {
                for (var j = 0; j < features.Length; j++)
                {
                    OrtValue input;
                    if (features[j].Type == FeatureType.Categorical)
                    {
                        input = Keep(OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape));
                        _text[j] = input;
                    }
                    else
                    {
                        var buffer = GC.AllocateArray<float>(rows, pinned: true);
                        _numeric[j] = buffer;
                        input = Keep(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(), shape));
                    }

                    _binding.BindInput(inputNames[j], input);
                }

                // The outputs in the order LoadedVersion names them: binary label, score, probability; regression score.
                _scores = GC.AllocateArray<float>(rows, pinned: true);
                if (task == ModelTask.Binary)
                {
                    _labels = GC.AllocateArray<bool>(rows, pinned: true);
                    _probabilities = GC.AllocateArray<float>(rows, pinned: true);
                    _binding.BindOutput(outputNames[0], Keep(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _labels.AsMemory(), shape)));
                    _binding.BindOutput(outputNames[1], Keep(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _scores.AsMemory(), shape)));
                    _binding.BindOutput(outputNames[2], Keep(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _probabilities.AsMemory(), shape)));
                }
                else
                {
                    _binding.BindOutput(outputNames[0], Keep(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _scores.AsMemory(), shape)));
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public ScoredRow[] Score(InferenceSession session, RunOptions run, FeatureDefinition[] features, bool[] bucketed, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
        {
            var count = rows.Count;
            for (var j = 0; j < features.Length; j++)
            {
                var name = features[j].Name;
                if (_numeric[j] is { } buffer)
                {
                    SetNumbers(buffer, name, rows);
                }
                else
                {
                    SetTexts(_text[j]!, name, bucketed[j], rows);
                }
            }

            session.RunWithBinding(run, _binding);
            return Answers(count, _labels, _scores, _probabilities);
        }

        public void Dispose()
        {
            _binding.Dispose();
            foreach (var value in _values)
            {
                value.Dispose();
            }
        }

        private OrtValue Keep(OrtValue value)
        {
            _values.Add(value);
            return value;
        }
    }

    /// <summary>Idle bound calls of one row count, taken and given back without a lock; what does not fit is disposed.</summary>
    private sealed class BoundCallPool(int capacity) : IDisposable
    {
        private readonly BoundCall?[] _idle = new BoundCall?[capacity];

        public BoundCall? Rent()
        {
            for (var i = 0; i < _idle.Length; i++)
            {
                if (Volatile.Read(ref _idle[i]) is { } call && Interlocked.CompareExchange(ref _idle[i], null, call) == call)
                {
                    return call;
                }
            }

            return null;
        }

        public bool Return(BoundCall call)
        {
            for (var i = 0; i < _idle.Length; i++)
            {
                if (Volatile.Read(ref _idle[i]) is null && Interlocked.CompareExchange(ref _idle[i], call, null) is null)
                {
                    return true;
                }
            }

            return false;
        }

        public void Dispose()
        {
            for (var i = 0; i < _idle.Length; i++)
            {
                Interlocked.Exchange(ref _idle[i], null)?.Dispose();
            }
        }
    }
}
