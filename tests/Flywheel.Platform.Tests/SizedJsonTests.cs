using System.Text;
using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference;
using Flywheel.Inference.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Flywheel.Platform.Tests;

/// <summary>The worker's prediction answers carry their length and are exactly what the serializer writes.</summary>
public sealed class SizedJsonTests : IDisposable
{
    private static readonly ModelSchema Binary = new("m", ModelTask.Binary, [new("x", FeatureType.Numeric)], new TargetDefinition("y", FeatureType.Categorical));

    private readonly ServiceProvider _services = WorkerJson();

    [Fact]
    public async Task An_answer_has_its_length_its_type_and_the_serializers_bytes_and_the_next_answer_starts_clean()
    {
        var large = Response(2_000);
        var small = Response(1);

        foreach (var response in new[] { small, large, small, Response(3), small })
        {
            var (http, body) = await ExecuteAsync(new SizedJson<PredictResponse>(response));

            var expected = JsonSerializer.SerializeToUtf8Bytes(response, Options);
            Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
            Assert.Equal("application/json; charset=utf-8", http.Response.ContentType);
            Assert.Equal(expected.Length, http.Response.ContentLength);
            Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(body));
        }

        Assert.True(JsonSerializer.SerializeToUtf8Bytes(large, Options).Length > 64 * 1024, "the large answer must outgrow the kept buffer");
    }

    [Fact]
    public async Task An_infer_answer_is_written_with_the_workers_options()
    {
        var answer = new InferResponse("m", "2", "req-1", [new OutputTensor("Score.output", "FP32", [1, 1], [0.25f])], new InferParameters([Guid.CreateVersion7()]));
        var (http, body) = await ExecuteAsync(new SizedJson<InferResponse>(answer));

        Assert.Equal(body.Length, http.Response.ContentLength);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("m", json.RootElement.GetProperty("model_name").GetString());
        Assert.Equal("2", json.RootElement.GetProperty("model_version").GetString());
        Assert.Equal(0.25, json.RootElement.GetProperty("outputs")[0].GetProperty("data")[0].GetDouble());
    }

    public void Dispose() => _services.Dispose();

    private JsonSerializerOptions Options => _services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;

    private async Task<(HttpContext Http, byte[] Body)> ExecuteAsync(IResult result)
    {
        using var body = new MemoryStream();
        var http = new DefaultHttpContext { RequestServices = _services };
        http.Response.Body = body;
        await result.ExecuteAsync(http);
        await http.Response.BodyWriter.CompleteAsync();
        return (http, body.ToArray());
    }

    private static PredictResponse Response(int count) => new(
        [.. Enumerable.Range(0, count).Select(i => PredictionOutputs.Describe(Binary, ["no", "yes \"quoted\" é"], new ScoredRow(i % 2 == 0, [i / 3f], i / (float)(count + 1))))],
        7,
        [.. Enumerable.Range(0, count).Select(_ => Guid.CreateVersion7())]);

    /// <summary>The JSON options as the worker configures them: the service defaults' and its own converters.</summary>
    private static ServiceProvider WorkerJson()
    {
        var services = new ServiceCollection();
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
            options.SerializerOptions.Converters.Add(new ValueMapJsonConverter());
            options.SerializerOptions.Converters.Add(new PredictResponseConverter());
        });
        return services.BuildServiceProvider();
    }
}
