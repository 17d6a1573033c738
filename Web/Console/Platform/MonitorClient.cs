using System.Globalization;

namespace Flywheel.Console.Platform;

/// <summary>
/// The drift monitor's reads (docs/monitoring.md), reached as the registry is, by service
/// discovery; like the registry's, they need no key.
/// </summary>
public sealed class MonitorClient(HttpClient http, ILogger<MonitorClient> logger) : ApiClient(http, logger)
{
    /// <summary>Reports the drift page reads: enough for a trend, few enough for one screen.</summary>
    public const int ReportPageSize = 20;

    public Task<ApiResult<DriftReportList>> GetDriftReportsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<DriftReportList>(string.Create(CultureInfo.InvariantCulture, $"/api/models/{Escape(model)}/drift?limit={ReportPageSize}"), cancellationToken);
}
