// The migrator as a Container Apps job (manual trigger): it applies the database schema, creates the
// Blob containers and the other services' PostgreSQL roles, then exits. Start it after each deploy
// (docs/deploy-azure.md). Same name/env/secrets parameter shape as app.bicep.

import { envVar, keyVaultSecret } from 'app.bicep'

@description('Job name: exactly the Aspire resource name (migrator).')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the job; azd-service-name is added.')
param tags object

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Login server of the container registry.')
param registryServer string

@description('Resource id of the job\'s user-assigned identity (id-<name>).')
param identityId string

@description('Container image; azd replaces the placeholder on deploy.')
param image string = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

@description('Environment variables of the container.')
param env envVar[]

@description('Key Vault-backed secrets of the job.')
param secrets keyVaultSecret[] = []

@description('Seconds one execution may run before it is stopped.')
param replicaTimeout int = 600

@description('vCPU per replica (a decimal as a string).')
param cpu string = '0.5'

@description('Memory per replica.')
param memory string = '1Gi'

resource job 'Microsoft.App/jobs@2024-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': name })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: replicaTimeout
      replicaRetryLimit: 1
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: name
          image: image
          env: env
          resources: {
            cpu: json(cpu)
            memory: memory
          }
        }
      ]
    }
  }
}

output name string = job.name
