using Flywheel.Registry;
using Flywheel.Registry.Batch;
using Flywheel.Registry.Deployments;
using Flywheel.Registry.Ingestion;
using Flywheel.Registry.Keys;
using Flywheel.Registry.Models;
using Flywheel.Registry.Overview;
using Flywheel.Registry.Predictions;
using Flywheel.Registry.Rollouts;
using Flywheel.Registry.Security;
using Flywheel.Registry.Snapshots;
using Flywheel.Registry.Training;
using Flywheel.Registry.Versions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.UseUnknownJsonFieldCheck();
app.MapDefaultEndpoints();
app.MapApiDocs();
app.MapPlatformApi();
app.MapModelsApi();
app.MapServingSettingsApi();
app.MapModelPolicyApi();
app.MapIngestionApi();
app.MapSnapshotsApi();
app.MapLabelsApi();
app.MapTrainingRunsApi();
app.MapVersionsApi();
app.MapDeploymentsApi();
app.MapRolloutsApi();
app.MapApiKeysApi();
app.MapAuditApi();
app.MapBatchPredictionsApi();
app.MapPredictionsApi();
app.MapOverviewApi();

app.Run();
