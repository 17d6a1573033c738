// Log Analytics workspace and a workspace-based Application Insights component.
// Container Apps send their console and system logs to the workspace; the services export
// traces, metrics and logs to Application Insights (ServiceDefaults enables the Azure Monitor
// exporter when APPLICATIONINSIGHTS_CONNECTION_STRING is set).

@description('Log Analytics workspace name.')
param workspaceName string

@description('Application Insights component name.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
  }
}

output workspaceName string = workspace.name
output workspaceId string = workspace.id
output appInsightsName string = appInsights.name
@description('Application Insights connection string (an ingestion endpoint and instrumentation key, not a credential).')
output appInsightsConnectionString string = appInsights.properties.ConnectionString
