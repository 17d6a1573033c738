// RabbitMQ as a single-replica container app, reachable inside the environment as rabbitmq:5672
// (internal TCP ingress). Its data lives on the Azure Files share registered as environment
// storage by environment.bicep. The password comes from Key Vault (secret rabbitmq-password)
// through the app's own identity, id-rabbitmq.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Resource id of the user-assigned identity id-rabbitmq.')
param identityId string

@description('Versionless Key Vault URI of the rabbitmq-password secret.')
param passwordSecretUri string

@description('Name of the environment storage (Azure Files) to mount at /var/lib/rabbitmq.')
param storageName string

@description('RabbitMQ image.')
param image string = 'docker.io/library/rabbitmq:3.13'

resource rabbitmq 'Microsoft.App/containerApps@2024-03-01' = {
  name: 'rabbitmq'
  location: location
  tags: tags
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
      activeRevisionsMode: 'Single'
      ingress: {
        external: false
        transport: 'tcp'
        targetPort: 5672
        exposedPort: 5672
      }
      secrets: [
        {
          name: 'rabbitmq-password'
          keyVaultUrl: passwordSecretUri
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'rabbitmq'
          image: image
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: [
            {
              name: 'RABBITMQ_DEFAULT_USER'
              value: 'flywheel'
            }
            {
              name: 'RABBITMQ_DEFAULT_PASS'
              secretRef: 'rabbitmq-password'
            }
            {
              // Replica host names change on every restart; a fixed node name keeps the data
              // directory (mnesia/<node>) the same, so queues and messages survive restarts.
              name: 'RABBITMQ_NODENAME'
              value: 'rabbit@localhost'
            }
          ]
          volumeMounts: [
            {
              volumeName: 'data'
              mountPath: '/var/lib/rabbitmq'
            }
          ]
          probes: [
            {
              type: 'Startup'
              tcpSocket: {
                port: 5672
              }
              initialDelaySeconds: 10
              periodSeconds: 10
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              tcpSocket: {
                port: 5672
              }
              periodSeconds: 30
              failureThreshold: 3
            }
          ]
        }
      ]
      volumes: [
        {
          name: 'data'
          storageType: 'AzureFile'
          storageName: storageName
          // The image runs as rabbitmq (uid/gid 999); the Erlang cookie must be owner-only.
          mountOptions: 'uid=999,gid=999,dir_mode=0700,file_mode=0600,nobrl,mfsymlinks'
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output name string = rabbitmq.name
