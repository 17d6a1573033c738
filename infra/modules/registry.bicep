// Azure Container Registry (Basic, admin user disabled). Images are pulled by the workloads'
// managed identities (AcrPull) and pushed by the principal that runs azd (AcrPush).

@description('Registry name (5-50 alphanumerics, globally unique).')
@minLength(5)
@maxLength(50)
param registryName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Principal (object) ids of the workload identities that pull images.')
param pullPrincipalIds string[]

@description('Principal (object) id of whoever runs azd; granted AcrPush. Empty: nobody.')
param pushPrincipalId string = ''

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var acrPushRoleId = '8311e382-0749-4cb8-b61a-304f252e45ec'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in pullPrincipalIds: {
    name: guid(registry.id, principalId, acrPullRoleId)
    scope: registry
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    }
  }
]

resource acrPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(pushPrincipalId)) {
  name: guid(registry.id, pushPrincipalId, acrPushRoleId)
  scope: registry
  properties: {
    principalId: pushPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPushRoleId)
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
