using System.Globalization;
using Flywheel.Console.Security;

namespace Flywheel.Console.Platform;

/// <summary>
/// The console's view of the control plane, through the Registry's API. Every call answers with
/// an <see cref="ApiResult{T}"/>: pages show a problem in words instead of failing when the
/// registry is down, slow or has no such item. Most reads need no key; the console holds none of its
/// own. The few calls that act or read the audit log, the prediction log or an ingestion's rows carry the key of the operator who signed in
/// (<see cref="Security.OperatorSession"/>), so the audit log names that operator.
/// </summary>
public sealed partial class PlatformClient(HttpClient http, ILogger<PlatformClient> logger) : ApiClient(http, logger)
{
    /// <summary>Rows of an ingestion's quarantine fetched per page.</summary>
    public const int QuarantinePageSize = 50;

    /// <summary>Audit entries fetched per page.</summary>
    public const int AuditPageSize = 50;

    public Task<ApiResult<PlatformInfo>> GetInfoAsync(CancellationToken cancellationToken) =>
        GetAsync<PlatformInfo>("/api/info", cancellationToken);

    public Task<ApiResult<ModelList>> GetModelsAsync(CancellationToken cancellationToken) =>
        GetAsync<ModelList>("/api/models", cancellationToken);

    public Task<ApiResult<ModelView>> GetModelAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<ModelView>($"/api/models/{Escape(model)}", cancellationToken);

    public Task<ApiResult<VersionList>> GetVersionsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<VersionList>($"/api/models/{Escape(model)}/versions", cancellationToken);

    public Task<ApiResult<ModelVersionView>> GetVersionAsync(string model, int version, CancellationToken cancellationToken) =>
        GetAsync<ModelVersionView>($"/api/models/{Escape(model)}/versions/{version}", cancellationToken);

    public Task<ApiResult<TrainingRunList>> GetTrainingRunsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<TrainingRunList>($"/api/models/{Escape(model)}/training-runs", cancellationToken);

    public Task<ApiResult<TrainingRunView>> GetTrainingRunAsync(Guid runId, CancellationToken cancellationToken) =>
        GetAsync<TrainingRunView>($"/api/training-runs/{runId}", cancellationToken);

    public Task<ApiResult<SnapshotView>> GetSnapshotAsync(string model, Guid snapshotId, CancellationToken cancellationToken) =>
        GetAsync<SnapshotView>($"/api/models/{Escape(model)}/snapshots/{snapshotId}", cancellationToken);

    public Task<ApiResult<IngestionListView>> GetIngestionsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<IngestionListView>($"/api/models/{Escape(model)}/ingestions", cancellationToken);

    /// <summary>An ingestion's report and a page of its quarantine; its messages quote the rows' values, so it needs a viewer's, operator's or admin's key.</summary>
    public Task<ApiResult<IngestionView>> GetIngestionAsync(string model, Guid ingestionId, long offset, PlatformCredential credential, CancellationToken cancellationToken) =>
        GetAsync<IngestionView>(
            string.Create(CultureInfo.InvariantCulture, $"/api/models/{Escape(model)}/ingestions/{ingestionId}?offset={offset}&limit={QuarantinePageSize}"),
            cancellationToken, credential);

    public Task<ApiResult<DeploymentView>> GetDeploymentAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<DeploymentView>($"/api/models/{Escape(model)}/deployment", cancellationToken);

    public Task<ApiResult<DeploymentHistoryView>> GetDeploymentHistoryAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<DeploymentHistoryView>($"/api/models/{Escape(model)}/deployment/history", cancellationToken);

    public Task<ApiResult<RolloutList>> GetRolloutsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<RolloutList>($"/api/models/{Escape(model)}/rollouts", cancellationToken);

    public Task<ApiResult<RetrainingDecisionList>> GetRetrainingDecisionsAsync(string model, CancellationToken cancellationToken) =>
        GetAsync<RetrainingDecisionList>($"/api/models/{Escape(model)}/retraining?limit=50", cancellationToken);

    /// <summary>Promotes a rollout that awaits approval, as the signed-in operator.</summary>
    public Task<ApiResult<RolloutView>> ApproveRolloutAsync(string model, Guid rolloutId, PlatformCredential credential, CancellationToken cancellationToken) =>
        PostAsync<RolloutView>($"/api/models/{Escape(model)}/rollouts/{rolloutId}/approve", credential, cancellationToken);

    /// <summary>Rolls a rollout's version back, as the signed-in operator.</summary>
    public Task<ApiResult<RolloutView>> RejectRolloutAsync(string model, Guid rolloutId, PlatformCredential credential, CancellationToken cancellationToken) =>
        PostAsync<RolloutView>($"/api/models/{Escape(model)}/rollouts/{rolloutId}/reject", credential, cancellationToken);

    /// <summary>A page of the audit log, newest first; it needs an operator's or admin's key.</summary>
    public Task<ApiResult<AuditPageView>> GetAuditAsync(string? model, string? action, long? before, PlatformCredential credential, CancellationToken cancellationToken)
    {
        var query = new List<string> { string.Create(CultureInfo.InvariantCulture, $"limit={AuditPageSize}") };
        if (!string.IsNullOrWhiteSpace(model))
        {
            query.Add($"model={Escape(model.Trim())}");
        }

        if (!string.IsNullOrWhiteSpace(action))
        {
            query.Add($"action={Escape(action.Trim())}");
        }

        if (before is { } id)
        {
            query.Add(string.Create(CultureInfo.InvariantCulture, $"before={id}"));
        }

        return GetAsync<AuditPageView>($"/api/audit?{string.Join('&', query)}", cancellationToken, credential);
    }

    /// <summary>A logged prediction with its label and lineage; the log holds business data, so it needs an operator's or admin's key.</summary>
    public Task<ApiResult<PredictionView>> GetPredictionAsync(Guid predictionId, PlatformCredential credential, CancellationToken cancellationToken) =>
        GetAsync<PredictionView>($"/api/predictions/{predictionId}", cancellationToken, credential);

    /// <summary>Who a key is: how a sign-in checks the key it was given.</summary>
    public Task<ApiResult<OwnKeyView>> GetOwnKeyAsync(PlatformCredential credential, CancellationToken cancellationToken) =>
        GetAsync<OwnKeyView>("/api/keys/me", cancellationToken, credential);
}

public sealed record PlatformInfo(string Service, string Version, string Environment);
