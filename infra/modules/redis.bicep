// Azure Cache for Redis, Basic C0, TLS only, Microsoft Entra sign-in only (access keys disabled).
// Each service that uses the online store signs in as its managed identity: the user is the
// identity's principal id, the password an access token (ServiceDefaults/OnlineStoreExtensions.cs).

@description('Cache name (globally unique DNS label).')
param cacheName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Identities allowed to read and write data (Data Contributor access policy).')
param dataContributors { alias: string, principalId: string }[]

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: cacheName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'Basic'
      family: 'C'
      capacity: 0
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    redisVersion: '6'
    disableAccessKeyAuthentication: true
    redisConfiguration: {
      'aad-enabled': 'true'
    }
  }
}

@batchSize(1)
resource contributors 'Microsoft.Cache/redis/accessPolicyAssignments@2024-03-01' = [
  for contributor in dataContributors: {
    parent: redis
    name: contributor.alias
    properties: {
      accessPolicyName: 'Data Contributor'
      objectId: contributor.principalId
      objectIdAlias: contributor.alias
    }
  }
]

output name string = redis.name
output hostName string = redis.properties.hostName
output sslPort int = redis.properties.sslPort
