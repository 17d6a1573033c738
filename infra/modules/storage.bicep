// Blob storage for model artifacts and data ("artifacts" in the Aspire manifest).
// Shared keys are disabled: every caller authenticates with Entra ID (the services with their
// managed identities), so no account key or SAS exists that could leak or need rotating.

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param accountName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Principal (object) ids granted Storage Blob Data Reader on the account.')
param blobReaderPrincipalIds string[]

@description('Principal (object) ids granted Storage Blob Data Contributor on the account.')
param blobContributorPrincipalIds string[]

@description('Principal (object) ids granted Storage Blob Data Contributor on the data-protection container only.')
param dataProtectionContributorPrincipalIds string[]

var blobDataReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }

  // The migrator also creates these if they are missing (CreateIfNotExists, private); creating
  // them here means the services' Blob health check passes as soon as they can authenticate.
  resource models 'containers' = {
    name: 'models'
    properties: {
      publicAccess: 'None'
    }
  }

  resource data 'containers' = {
    name: 'data'
    properties: {
      publicAccess: 'None'
    }
  }

  // The console's ASP.NET Core Data Protection key ring (it protects the sign-in cookie), shared by
  // its replicas. The console may write here and nowhere else in the account.
  resource dataProtection 'containers' = {
    name: 'data-protection'
    properties: {
      publicAccess: 'None'
    }
  }
}

resource blobReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in blobReaderPrincipalIds: {
    name: guid(account.id, principalId, blobDataReaderRoleId)
    scope: account
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataReaderRoleId)
    }
  }
]

resource blobContributors 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in blobContributorPrincipalIds: {
    name: guid(account.id, principalId, blobDataContributorRoleId)
    scope: account
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    }
  }
]

resource dataProtectionContributors 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in dataProtectionContributorPrincipalIds: {
    name: guid(blobService::dataProtection.id, principalId, blobDataContributorRoleId)
    scope: blobService::dataProtection
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    }
  }
]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
