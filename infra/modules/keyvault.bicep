// Key Vault (RBAC authorization, soft delete) holding the two secrets the workloads still need
// (Redis, PostgreSQL and Blob storage are reached with managed identities, not keys).
// Each identity is granted Key Vault Secrets User on exactly the secrets it uses (the role
// assignment is scoped to the secret, not the vault). Container Apps read the secrets through
// Key Vault references with the app's own managed identity.

@description('Vault name (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param vaultName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@secure()
@description('Password of the RabbitMQ user "flywheel".')
param brokerCredential string

@secure()
@description('The bootstrap admin API key for the registry.')
param bootstrapAdminKey string

@description('Principal ids allowed to read the admin-key secret.')
param adminKeyReaderIds string[]

@description('Principal ids allowed to read the message-bus secret.')
param messageBusReaderIds string[]

@description('Principal ids allowed to read the rabbitmq-password secret.')
param rabbitMqPasswordReaderIds string[]

var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource messageBus 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'message-bus'
  properties: {
    value: 'amqp://flywheel:${uriComponent(brokerCredential)}@rabbitmq:5672/'
    contentType: 'AMQP URI'
  }
}

resource rabbitMqPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'rabbitmq-password'
  properties: {
    value: brokerCredential
    contentType: 'RabbitMQ password of the user flywheel'
  }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'admin-key'
  properties: {
    value: bootstrapAdminKey
    contentType: 'Bootstrap admin API key of the registry'
  }
}

resource adminKeyReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in adminKeyReaderIds: {
    name: guid(adminKeySecret.id, principalId, secretsUserRoleId)
    scope: adminKeySecret
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    }
  }
]

resource messageBusReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in messageBusReaderIds: {
    name: guid(messageBus.id, principalId, secretsUserRoleId)
    scope: messageBus
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    }
  }
]

resource rabbitMqPasswordReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in rabbitMqPasswordReaderIds: {
    name: guid(rabbitMqPasswordSecret.id, principalId, secretsUserRoleId)
    scope: rabbitMqPasswordSecret
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    }
  }
]

output name string = vault.name
output uri string = vault.properties.vaultUri
@description('Versionless URI of the admin-key secret (a reference, not the value).')
output adminKeyUri string = adminKeySecret.properties.secretUri
@description('Versionless URI of the message-bus secret (a reference, not the value).')
output messageBusUri string = messageBus.properties.secretUri
@description('Versionless URI of the rabbitmq-password secret (a reference, not the value).')
output rabbitMqLoginUri string = rabbitMqPasswordSecret.properties.secretUri
