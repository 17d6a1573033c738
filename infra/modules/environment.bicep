// Container Apps environment (workload profiles) that logs to Log Analytics, plus the Azure Files
// share RabbitMQ keeps its data on.
//
// Azure Files volumes in Container Apps are mounted with the storage account key. The artifacts
// account has shared-key access disabled, so RabbitMQ gets a separate, small account that holds
// only this file share; its key is read here with listKeys() and handed straight to the
// environment storage definition, never to an output.

@description('Container Apps environment name.')
param environmentName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Log Analytics workspace (in this resource group) that receives the container logs.')
param workspaceName string

@description('Add a serverless GPU workload profile named "gpu" (NVIDIA T4).')
param enableGpu bool

@description('Name of the storage account for the RabbitMQ file share (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param rabbitMqStorageAccountName string

var consumptionProfile = {
  name: 'Consumption'
  workloadProfileType: 'Consumption'
}

var gpuProfile = {
  name: 'gpu'
  workloadProfileType: 'Consumption-GPU-NC8as-T4'
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    workloadProfiles: enableGpu ? [consumptionProfile, gpuProfile] : [consumptionProfile]
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    zoneRedundant: false
  }
}

resource rabbitMqStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: rabbitMqStorageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Required: SMB mounts of Azure Files authenticate with the account key.
    allowSharedKeyAccess: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = {
  parent: rabbitMqStorage
  name: 'default'

  resource rabbitMqShare 'shares' = {
    name: 'rabbitmq'
    properties: {
      shareQuota: 5
      enabledProtocols: 'SMB'
    }
  }
}

resource rabbitMqVolume 'Microsoft.App/managedEnvironments/storages@2024-03-01' = {
  parent: managedEnvironment
  name: 'rabbitmq'
  properties: {
    azureFile: {
      accountName: rabbitMqStorage.name
      accountKey: first(rabbitMqStorage.listKeys().keys)!.value
      shareName: fileService::rabbitMqShare.name
      accessMode: 'ReadWrite'
    }
  }
}

output id string = managedEnvironment.id
output name string = managedEnvironment.name
output defaultDomain string = managedEnvironment.properties.defaultDomain
@description('Name of the environment storage (Azure Files) that RabbitMQ mounts.')
output rabbitMqStorageName string = rabbitMqVolume.name
