// One user-assigned managed identity per workload, named id-<service>. Each identity gets only the
// role assignments its workload needs; those live next to the resource they grant access to
// (registry.bicep, storage.bicep, keyvault.bicep, postgres.bicep).

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@export()
@description('What the other modules need to know about one identity.')
type identityInfo = {
  @description('Resource id, used to assign the identity to a container app and in Key Vault / ACR references.')
  id: string
  @description('Client (application) id; the workload reads it from AZURE_CLIENT_ID.')
  clientId: string
  @description('Object (principal) id, used in role assignments and as the PostgreSQL Entra principal.')
  principalId: string
  @description('Identity name; also the PostgreSQL role name the workload logs in as.')
  name: string
}

resource migrator 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-migrator'
  location: location
  tags: tags
}

resource registry 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-registry'
  location: location
  tags: tags
}

resource inference 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-inference'
  location: location
  tags: tags
}

resource orchestrator 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-orchestrator'
  location: location
  tags: tags
}

resource trainer 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-trainer'
  location: location
  tags: tags
}

resource driftMonitor 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-drift-monitor'
  location: location
  tags: tags
}

resource console 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-console'
  location: location
  tags: tags
}

resource gateway 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-gateway'
  location: location
  tags: tags
}

resource rabbitmq 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-rabbitmq'
  location: location
  tags: tags
}

output migrator identityInfo = {
  id: migrator.id
  clientId: migrator.properties.clientId
  principalId: migrator.properties.principalId
  name: migrator.name
}

output registry identityInfo = {
  id: registry.id
  clientId: registry.properties.clientId
  principalId: registry.properties.principalId
  name: registry.name
}

output inference identityInfo = {
  id: inference.id
  clientId: inference.properties.clientId
  principalId: inference.properties.principalId
  name: inference.name
}

output orchestrator identityInfo = {
  id: orchestrator.id
  clientId: orchestrator.properties.clientId
  principalId: orchestrator.properties.principalId
  name: orchestrator.name
}

output trainer identityInfo = {
  id: trainer.id
  clientId: trainer.properties.clientId
  principalId: trainer.properties.principalId
  name: trainer.name
}

output driftMonitor identityInfo = {
  id: driftMonitor.id
  clientId: driftMonitor.properties.clientId
  principalId: driftMonitor.properties.principalId
  name: driftMonitor.name
}

output console identityInfo = {
  id: console.id
  clientId: console.properties.clientId
  principalId: console.properties.principalId
  name: console.name
}

output gateway identityInfo = {
  id: gateway.id
  clientId: gateway.properties.clientId
  principalId: gateway.properties.principalId
  name: gateway.name
}

output rabbitmq identityInfo = {
  id: rabbitmq.id
  clientId: rabbitmq.properties.clientId
  principalId: rabbitmq.properties.principalId
  name: rabbitmq.name
}
