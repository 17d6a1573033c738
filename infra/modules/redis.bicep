// Azure Cache for Redis, Basic C0, TLS only. Its connection string (with the access key) is
// written to Key Vault by keyvault.bicep and never leaves the deployment as an output.

@description('Cache name (globally unique DNS label).')
param cacheName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

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
  }
}

output name string = redis.name
output hostName string = redis.properties.hostName
output sslPort int = redis.properties.sslPort
