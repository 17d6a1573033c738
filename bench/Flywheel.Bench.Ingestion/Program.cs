using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

// CSV ingestion throughput through the gateway, against a running platform (./flywheel up).
//   dotnet run --project bench/Flywheel.Bench.Ingestion -c Release -- [rows=1000000] [features=20]
// The body is generated while it is sent, so neither side ever holds the file.
var rows = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var features = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
var state = Path.Combine(FindRoot(), ".flywheel");
var gateway = File.ReadAllText(Path.Combine(state, "gateway.url")).Trim();
var key = File.ReadAllText(Path.Combine(state, "admin.key")).Trim();

using var http = new HttpClient { BaseAddress = new Uri(gateway), Timeout = TimeSpan.FromMinutes(30) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

var model = "bench-" + Guid.NewGuid().ToString("N")[..8];
var definition = new
{
    name = model,
    task = "binary",
    features = Enumerable.Range(0, features).Select(i => new { name = $"f{i}", type = "numeric" }).ToArray(),
    target = new { name = "label", type = "boolean" },
};
using (var created = await http.PostAsJsonAsync("/api/models", definition))
{
    if (created.StatusCode != HttpStatusCode.Created)
    {
        throw new InvalidOperationException($"Could not define the model: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
    }
}

var body = new GeneratedCsv(rows, features);
var clock = Stopwatch.StartNew();
using var response = await http.PostAsync($"/api/models/{model}/data", body);
clock.Stop();
var result = await response.Content.ReadFromJsonAsync<JsonElement>();
if (!response.IsSuccessStatusCode)
{
    throw new InvalidOperationException($"Upload failed: {(int)response.StatusCode} {result}");
}

var accepted = result.GetProperty("accepted").GetInt64();
Console.WriteLine(JsonSerializer.Serialize(new
{
    rows,
    features,
    accepted,
    bytes = body.BytesWritten,
    seconds = Math.Round(clock.Elapsed.TotalSeconds, 2),
    rows_per_second = Math.Round(rows / clock.Elapsed.TotalSeconds),
    megabytes_per_second = Math.Round(body.BytesWritten / 1048576.0 / clock.Elapsed.TotalSeconds, 1),
    machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
}));

static string FindRoot()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "Flywheel.slnx")))
        {
            return directory.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the Flywheel repository.");
}

/// <summary>Rows of random features with a deterministic seed, written as they are sent.</summary>
internal sealed class GeneratedCsv : HttpContent
{
    private readonly long _rows;
    private readonly int _features;

    public GeneratedCsv(long rows, int features)
    {
        _rows = rows;
        _features = features;
        Headers.ContentType = new MediaTypeHeaderValue("text/csv");
    }

    public long BytesWritten { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var random = new Random(42);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var line = new StringBuilder();
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        line.Append("event_id,entity_id,event_time");
        for (var f = 0; f < _features; f++)
        {
            line.Append(",f").Append(f);
        }

        line.Append(",label\n");
        for (long i = 0; i < _rows; i++)
        {
            line.Append('e').Append(i).Append(",c").Append(i % 10_000).Append(',')
                .Append(start.AddSeconds(i).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            for (var f = 0; f < _features; f++)
            {
                line.Append(',').Append((random.NextDouble() * 100).ToString("F3", CultureInfo.InvariantCulture));
            }

            line.Append(',').Append(random.Next(2)).Append('\n');
            if (line.Length > 1 << 15)
            {
                await Flush();
            }
        }

        await Flush();
        await writer.FlushAsync();

        async Task Flush()
        {
            BytesWritten += Encoding.UTF8.GetByteCount(line.ToString());
            await writer.WriteAsync(line);
            line.Clear();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
