// Key Vault (RBAC authorization, soft delete) holding the secrets the workloads still need
// (Redis, PostgreSQL and Blob storage are reached with managed identities, not keys): the RabbitMQ
// credentials, the registry's bootstrap admin key, the console's service key and, when the console
// signs people in with Entra ID, its OpenID Connect client secret.
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

@secure()
@description('The console\'s service API key (role console): the registry installs it, the console acts with it.')
param consoleServiceKey string

@secure()
@description('The key the inference workers pseudonymise PII features under before they log them.')
param piiPseudonymKey string

@description('Whether the console signs people in with OpenID Connect; only then is the client secret stored.')
param consoleOidcEnabled bool

@secure()
@description('Client secret of the console\'s Entra app registration; used only when consoleOidcEnabled.')
param consoleOidcCredential string

@description('Principal ids allowed to read the admin-key secret.')
param adminKeyReaderIds string[]

@description('Principal ids allowed to read the console-key secret.')
param consoleKeyReaderIds string[]

@description('Principal ids allowed to read the pii-key secret.')
param piiKeyReaderIds string[]

@description('Principal ids allowed to read the console-oidc-client-secret secret.')
param consoleOidcReaderIds string[]

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

resource consoleKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'console-key'
  properties: {
    value: consoleServiceKey
    contentType: 'Service API key of the console (role console)'
  }
}

resource piiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'pii-key'
  properties: {
    value: piiPseudonymKey
    contentType: 'Key of the PII pseudonyms in the prediction log (HMAC-SHA256)'
  }
}

// Only with OpenID Connect: a Container App cannot start with a Key Vault reference to an empty
// secret (microsoft/azure-container-apps#1291), so without OIDC the secret and its reference do not exist.
resource consoleOidcSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (consoleOidcEnabled) {
  parent: vault
  name: 'console-oidc-client-secret'
  properties: {
    value: consoleOidcCredential
    contentType: 'Client secret of the console\'s Entra ID app registration'
  }
}

resource consoleKeyReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in consoleKeyReaderIds: {
    name: guid(consoleKeySecret.id, principalId, secretsUserRoleId)
    scope: consoleKeySecret
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    }
  }
]

resource piiKeyReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in piiKeyReaderIds: {
    name: guid(piiKeySecret.id, principalId, secretsUserRoleId)
    scope: piiKeySecret
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    }
  }
]

resource consoleOidcReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in (consoleOidcEnabled ? consoleOidcReaderIds : []): {
    name: guid(consoleOidcSecret.id, principalId, secretsUserRoleId)
    scope: consoleOidcSecret
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    }
  }
]

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
@description('Versionless URI of the console-key secret (a reference, not the value).')
output consoleKeyUri string = consoleKeySecret.properties.secretUri
@description('Versionless URI of the pii-key secret (a reference, not the value).')
output piiKeyUri string = piiKeySecret.properties.secretUri
@description('Versionless URI of the console-oidc-client-secret secret; empty without OpenID Connect.')
output consoleOidcClientSecretUri string = consoleOidcEnabled ? consoleOidcSecret!.properties.secretUri : ''
