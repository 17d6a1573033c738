// Azure Database for PostgreSQL Flexible Server, Entra ID authentication only (no password login
// exists). The migrator's managed identity is the Entra administrator: it applies the schema and
// creates a PostgreSQL role for each other service identity (see docs/deploy-azure.md).

@description('Server name (globally unique DNS label).')
@minLength(3)
@maxLength(63)
param serverName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Object id of the managed identity that administers the server (the migrator).')
param administratorPrincipalId string

@description('Name of that identity; it is also the PostgreSQL role it logs in as.')
param administratorName string

@description('Database the services use.')
param databaseName string = 'flywheel'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  tags: tags
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: '16'
    storage: {
      storageSizeGB: 32
      autoGrow: 'Disabled'
    }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }

  // The server accepts one configuration change at a time, so the children are chained.
  resource administrator 'administrators' = {
    name: administratorPrincipalId
    properties: {
      principalType: 'ServicePrincipal'
      principalName: administratorName
      tenantId: tenant().tenantId
    }
  }

  // 0.0.0.0 - 0.0.0.0 is Azure's convention for "allow connections from Azure services", which
  // is how the Container Apps environment (no virtual network) reaches the server.
  resource allowAzureServices 'firewallRules' = {
    name: 'AllowAzureServices'
    properties: {
      startIpAddress: '0.0.0.0'
      endIpAddress: '0.0.0.0'
    }
    dependsOn: [
      administrator
    ]
  }

  resource database 'databases' = {
    name: databaseName
    properties: {
      charset: 'UTF8'
      collation: 'en_US.utf8'
    }
    dependsOn: [
      allowAzureServices
    ]
  }
}

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = server::database.name
