// Flywheel on Azure: Container Apps with managed PostgreSQL, Redis, Blob storage and Key Vault.
// Deployed by azd (`azd up`); see docs/deploy-azure.md.
//
// Conventions a reader (or a test of the compiled template) can rely on:
// - every HTTP service is one call of modules/app.bicep, deployment name `app-<service>`, with
//   literal `name` (the Aspire resource name) and a literal `env` array of { name, value | secretRef };
// - the migrator is one call of modules/job.bicep, deployment name `job-migrator`, same shape;
// - connection strings carry no credentials: PostgreSQL and Blob storage use each service's managed
//   identity, Redis and RabbitMQ come from Key Vault references (secretRef).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@description('Object id of the principal running azd; granted AcrPush on the registry so it can push images. Empty: no grant.')
param principalId string = ''

@description('Add the serverless GPU workload profile (NVIDIA T4) and run inference on it.')
param enableGpu bool = false

@secure()
@description('Password of the RabbitMQ user "flywheel". Goes to Key Vault only.')
param rabbitMqPassword string

@secure()
@minLength(32)
@description('The bootstrap admin API key the registry accepts (at least 32 characters). Goes to Key Vault only.')
param adminKey string

@secure()
@minLength(32)
@description('The console\'s service API key (role console, at least 32 characters): the registry installs it and the console acts with it for whoever signs in. Goes to Key Vault only.')
param consoleKey string

@secure()
@minLength(32)
@description('The key the inference workers pseudonymise PII features under before they log them (HMAC-SHA256, at least 32 characters). Keep it: pseudonyms made under another key do not join. Goes to Key Vault only.')
param piiKey string

@description('Application (client) id of the console\'s Entra ID app registration. Empty: no OpenID Connect sign-in.')
param consoleOidcClientId string = ''

@description('OpenID Connect authority of the console\'s sign-in; empty means Entra ID in this deployment\'s tenant (https://login.microsoftonline.com/<tenant>/v2.0). Used only with consoleOidcClientId.')
param consoleOidcAuthority string = ''

@secure()
@description('Client secret of the console\'s app registration; required with consoleOidcClientId. Goes to Key Vault only.')
param consoleOidcClientSecret string = ''

var tags = {
  'azd-env-name': environmentName
}

// The console signs people in with Entra ID only when an app registration is given; otherwise its
// OIDC settings are empty and app.bicep leaves them out (the console then offers API-key sign-in
// and whatever local accounts are configured).
var consoleOidcEnabled = !empty(consoleOidcClientId)
var consoleOidcAuthorityValue = consoleOidcEnabled
  ? (empty(consoleOidcAuthority) ? '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0' : consoleOidcAuthority)
  : ''

// Globally unique, stable per subscription + environment + region.
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------
// Shared infrastructure
// ---------------------------------------------------------------------------------------------

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    registryName: 'cr${resourceToken}'
    location: location
    tags: tags
    // Every workload that runs a Flywheel image; RabbitMQ pulls from Docker Hub and is not here.
    pullPrincipalIds: [
      identities.outputs.migrator.principalId
      identities.outputs.registry.principalId
      identities.outputs.inference.principalId
      identities.outputs.orchestrator.principalId
      identities.outputs.trainer.principalId
      identities.outputs.driftMonitor.principalId
      identities.outputs.console.principalId
      identities.outputs.gateway.principalId
    ]
    pushPrincipalId: principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    accountName: 'st${resourceToken}'
    location: location
    tags: tags
    blobReaderPrincipalIds: [
      identities.outputs.inference.principalId
    ]
    blobContributorPrincipalIds: [
      identities.outputs.registry.principalId
      identities.outputs.trainer.principalId
      identities.outputs.migrator.principalId
    ]
    dataProtectionContributorPrincipalIds: [
      identities.outputs.console.principalId
    ]
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    serverName: 'psql-${resourceToken}'
    location: location
    tags: tags
    administratorPrincipalId: identities.outputs.migrator.principalId
    administratorName: identities.outputs.migrator.name
    databaseName: 'flywheel'
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    cacheName: 'redis-${resourceToken}'
    location: location
    tags: tags
    dataContributors: [
      { alias: identities.outputs.gateway.name, principalId: identities.outputs.gateway.principalId }
      { alias: identities.outputs.registry.name, principalId: identities.outputs.registry.principalId }
      { alias: identities.outputs.inference.name, principalId: identities.outputs.inference.principalId }
    ]
  }
}

// Services sign in to Redis with Entra ID: the user is the identity's principal id, the password a token.
var redisEndpoint = '${redis.outputs.hostName}:${redis.outputs.sslPort},ssl=True,abortConnect=False'

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    vaultName: 'kv-${resourceToken}'
    location: location
    tags: tags
    brokerCredential: rabbitMqPassword
    bootstrapAdminKey: adminKey
    consoleServiceKey: consoleKey
    piiPseudonymKey: piiKey
    consoleOidcEnabled: consoleOidcEnabled
    consoleOidcCredential: consoleOidcClientSecret
    adminKeyReaderIds: [
      identities.outputs.registry.principalId
    ]
    consoleKeyReaderIds: [
      identities.outputs.registry.principalId
      identities.outputs.console.principalId
    ]
    piiKeyReaderIds: [
      identities.outputs.inference.principalId
    ]
    consoleOidcReaderIds: [
      identities.outputs.console.principalId
    ]
    messageBusReaderIds: [
      identities.outputs.registry.principalId
      identities.outputs.inference.principalId
      identities.outputs.orchestrator.principalId
      identities.outputs.trainer.principalId
      identities.outputs.driftMonitor.principalId
    ]
    rabbitMqPasswordReaderIds: [
      identities.outputs.rabbitmq.principalId
    ]
  }
}

module containerAppsEnvironment 'modules/environment.bicep' = {
  name: 'container-apps-environment'
  scope: rg
  params: {
    environmentName: 'cae-${resourceToken}'
    location: location
    tags: tags
    workspaceName: monitoring.outputs.workspaceName
    enableGpu: enableGpu
    rabbitMqStorageAccountName: 'strmq${resourceToken}'
  }
}

module rabbitmq 'modules/rabbitmq.bicep' = {
  name: 'rabbitmq'
  scope: rg
  params: {
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    identityId: identities.outputs.rabbitmq.id
    passwordSecretUri: keyVault.outputs.rabbitMqLoginUri
    storageName: containerAppsEnvironment.outputs.rabbitMqStorageName
  }
}

// ---------------------------------------------------------------------------------------------
// Flywheel workloads. Env values:
//   flywheel-db   Host=<server>;Database=flywheel;Username=id-<service>;Ssl Mode=Require (Entra token, no password)
//   artifacts     https://<account>.blob.<suffix>/ (service URI; managed identity)
//   online-store  <redis host>:6380,ssl=True,user=<principal id>: Entra sign-in, no key
//   message-bus   secretRef message-bus  (Key Vault)
// ---------------------------------------------------------------------------------------------

var artifactsUri = 'https://${storage.outputs.name}.blob.${environment().suffixes.storage}/'
// Inference runs on the serverless T4 GPU profile when enableGpu; a T4 replica has 8 vCPU, 56 GiB.
var inferenceWorkloadProfile = enableGpu ? 'gpu' : 'Consumption'
var inferenceCpu = enableGpu ? '8' : '1'
var inferenceMemory = enableGpu ? '56Gi' : '2Gi'

module migrator 'modules/job.bicep' = {
  name: 'job-migrator'
  scope: rg
  params: {
    name: 'migrator'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.migrator.id
    replicaTimeout: 600
    secrets: []
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'DOTNET_ENVIRONMENT', value: 'Production' }
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-migrator;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-migrator;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__artifacts', value: artifactsUri }
      // The migrator is the server's Entra administrator; it creates a PostgreSQL role for each of
      // these identities (the services that use the database) and grants it read/write on the
      // Flywheel schemas (Services/Migrator/PrincipalGrants.cs).
      {
        name: 'Flywheel__Database__Principals'
        value: 'id-registry,id-inference,id-orchestrator,id-trainer,id-drift-monitor,id-gateway'
      }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.migrator.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module registryApp 'modules/app.bicep' = {
  name: 'app-registry'
  scope: rg
  params: {
    name: 'registry'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.registry.id
    external: false
    minReplicas: 1
    maxReplicas: 3
    scaleRules: [
      {
        name: 'http-concurrency'
        http: {
          metadata: {
            concurrentRequests: '50'
          }
        }
      }
    ]
    workloadProfileName: 'Consumption'
    secrets: [
      { name: 'message-bus', keyVaultUrl: keyVault.outputs.messageBusUri, identity: identities.outputs.registry.id }
      { name: 'admin-key', keyVaultUrl: keyVault.outputs.adminKeyUri, identity: identities.outputs.registry.id }
      { name: 'console-key', keyVaultUrl: keyVault.outputs.consoleKeyUri, identity: identities.outputs.registry.id }
    ]
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-registry;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-registry;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__online-store', value: '${redisEndpoint},user=${identities.outputs.registry.principalId}' }
      { name: 'ConnectionStrings__online_store', value: '${redisEndpoint},user=${identities.outputs.registry.principalId}' }
      { name: 'ConnectionStrings__message-bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__message_bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__artifacts', value: artifactsUri }
      { name: 'Flywheel__AdminKey', secretRef: 'admin-key' }
      // The console's key, installed with role console (docs/console.md, "Signing in").
      { name: 'Flywheel__ConsoleKey', secretRef: 'console-key' }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.registry.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module inferenceApp 'modules/app.bicep' = {
  name: 'app-inference'
  scope: rg
  params: {
    name: 'inference'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.inference.id
    external: false
    minReplicas: 1
    maxReplicas: 10
    scaleRules: [
      {
        name: 'http-concurrency'
        http: {
          metadata: {
            concurrentRequests: '50'
          }
        }
      }
    ]
    workloadProfileName: inferenceWorkloadProfile
    cpu: inferenceCpu
    memory: inferenceMemory
    secrets: [
      { name: 'message-bus', keyVaultUrl: keyVault.outputs.messageBusUri, identity: identities.outputs.inference.id }
      { name: 'pii-key', keyVaultUrl: keyVault.outputs.piiKeyUri, identity: identities.outputs.inference.id }
    ]
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-inference;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-inference;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__online-store', value: '${redisEndpoint},user=${identities.outputs.inference.principalId}' }
      { name: 'ConnectionStrings__online_store', value: '${redisEndpoint},user=${identities.outputs.inference.principalId}' }
      { name: 'ConnectionStrings__message-bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__message_bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__artifacts', value: artifactsUri }
      { name: 'Flywheel__PiiKey', secretRef: 'pii-key' }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.inference.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module orchestratorApp 'modules/app.bicep' = {
  name: 'app-orchestrator'
  scope: rg
  params: {
    name: 'orchestrator'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.orchestrator.id
    external: false
    // Exactly one active instance.
    minReplicas: 1
    maxReplicas: 1
    scaleRules: []
    workloadProfileName: 'Consumption'
    secrets: [
      { name: 'message-bus', keyVaultUrl: keyVault.outputs.messageBusUri, identity: identities.outputs.orchestrator.id }
    ]
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-orchestrator;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-orchestrator;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__message-bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__message_bus', secretRef: 'message-bus' }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.orchestrator.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module trainerApp 'modules/app.bicep' = {
  name: 'app-trainer'
  scope: rg
  params: {
    name: 'trainer'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.trainer.id
    external: false
    minReplicas: 0
    maxReplicas: 5
    scaleRules: [
      {
        // KEDA RabbitMQ scaler: one replica per 5 messages waiting in train-model.
        name: 'train-model-queue'
        custom: {
          type: 'rabbitmq'
          metadata: {
            queueName: 'train-model'
            mode: 'QueueLength'
            value: '5'
          }
          auth: [
            {
              secretRef: 'message-bus'
              triggerParameter: 'host'
            }
          ]
        }
      }
    ]
    workloadProfileName: 'Consumption'
    cpu: '1'
    memory: '2Gi'
    secrets: [
      { name: 'message-bus', keyVaultUrl: keyVault.outputs.messageBusUri, identity: identities.outputs.trainer.id }
    ]
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-trainer;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-trainer;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__message-bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__message_bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__artifacts', value: artifactsUri }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.trainer.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module driftMonitorApp 'modules/app.bicep' = {
  name: 'app-drift-monitor'
  scope: rg
  params: {
    name: 'drift-monitor'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.driftMonitor.id
    external: false
    // Exactly one active instance.
    minReplicas: 1
    maxReplicas: 1
    scaleRules: []
    workloadProfileName: 'Consumption'
    secrets: [
      { name: 'message-bus', keyVaultUrl: keyVault.outputs.messageBusUri, identity: identities.outputs.driftMonitor.id }
    ]
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-drift-monitor;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-drift-monitor;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__message-bus', secretRef: 'message-bus' }
      { name: 'ConnectionStrings__message_bus', secretRef: 'message-bus' }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.driftMonitor.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module consoleApp 'modules/app.bicep' = {
  name: 'app-console'
  scope: rg
  params: {
    name: 'console'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.console.id
    external: false
    minReplicas: 1
    maxReplicas: 3
    scaleRules: [
      {
        name: 'http-concurrency'
        http: {
          metadata: {
            concurrentRequests: '50'
          }
        }
      }
    ]
    workloadProfileName: 'Consumption'
    // The OIDC client secret's URI is empty without OpenID Connect: app.bicep then leaves out the
    // secret and the variable that refers to it, and the empty Authority and ClientId.
    secrets: [
      { name: 'console-key', keyVaultUrl: keyVault.outputs.consoleKeyUri, identity: identities.outputs.console.id }
      {
        name: 'oidc-client-secret'
        keyVaultUrl: keyVault.outputs.consoleOidcClientSecretUri
        identity: identities.outputs.console.id
      }
    ]
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      { name: 'REGISTRY_HTTP', value: 'http://registry' }
      { name: 'services__registry__http__0', value: 'http://registry' }
      { name: 'DRIFT_MONITOR_HTTP', value: 'http://drift-monitor' }
      { name: 'services__drift-monitor__http__0', value: 'http://drift-monitor' }
      // Only the Data Protection key ring (container data-protection): the console keeps it in Blob
      // storage so that every replica can read the sign-in cookie.
      { name: 'ConnectionStrings__artifacts', value: artifactsUri }
      { name: 'Flywheel__Console__ServiceKey', secretRef: 'console-key' }
      { name: 'Flywheel__Console__Oidc__Authority', value: consoleOidcAuthorityValue }
      { name: 'Flywheel__Console__Oidc__ClientId', value: consoleOidcClientId }
      { name: 'Flywheel__Console__Oidc__ClientSecret', secretRef: 'oidc-client-secret' }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.console.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

module gatewayApp 'modules/app.bicep' = {
  name: 'app-gateway'
  scope: rg
  params: {
    name: 'gateway'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    identityId: identities.outputs.gateway.id
    // The only public entrance.
    external: true
    minReplicas: 1
    maxReplicas: 10
    scaleRules: [
      {
        name: 'http-concurrency'
        http: {
          metadata: {
            concurrentRequests: '50'
          }
        }
      }
    ]
    workloadProfileName: 'Consumption'
    secrets: []
    env: [
      { name: 'OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY', value: 'in_memory' }
      { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
      { name: 'HTTP_PORTS', value: '8080' }
      { name: 'ASPNETCORE_ENVIRONMENT', value: 'Production' }
      // The gateway reads deployments and API keys (registry schema) to route and authenticate.
      {
        name: 'ConnectionStrings__flywheel-db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-gateway;Ssl Mode=Require'
      }
      {
        name: 'ConnectionStrings__flywheel_db'
        value: 'Host=${postgres.outputs.fqdn};Database=flywheel;Username=id-gateway;Ssl Mode=Require'
      }
      { name: 'ConnectionStrings__online-store', value: '${redisEndpoint},user=${identities.outputs.gateway.principalId}' }
      { name: 'ConnectionStrings__online_store', value: '${redisEndpoint},user=${identities.outputs.gateway.principalId}' }
      { name: 'REGISTRY_HTTP', value: 'http://registry' }
      { name: 'services__registry__http__0', value: 'http://registry' }
      { name: 'INFERENCE_HTTP', value: 'http://inference' }
      { name: 'services__inference__http__0', value: 'http://inference' }
      { name: 'DRIFT_MONITOR_HTTP', value: 'http://drift-monitor' }
      { name: 'services__drift-monitor__http__0', value: 'http://drift-monitor' }
      { name: 'CONSOLE_HTTP', value: 'http://console' }
      { name: 'services__console__http__0', value: 'http://console' }
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.gateway.clientId }
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.appInsightsConnectionString }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs for azd (stored in .azure/<env>/.env). No secrets.
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = containerAppsEnvironment.outputs.id
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = containerAppsEnvironment.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_DEFAULT_DOMAIN string = containerAppsEnvironment.outputs.defaultDomain
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_POSTGRES_SERVER_FQDN string = postgres.outputs.fqdn
output AZURE_STORAGE_BLOB_ENDPOINT string = artifactsUri
output AZURE_MIGRATOR_JOB_NAME string = migrator.outputs.name
output SERVICE_GATEWAY_URL string = 'https://${gatewayApp.outputs.fqdn}'

// What azd fills into AppHost/infra/<service>.tmpl.yaml when it deploys (`{{ .Env.NAME }}`): azd
// deploys an Aspire AppHost by rendering that file against the azd environment (these outputs) and
// PUTting the result as the container app, so the app keeps the identity, Key Vault references and
// variables set above. Identifiers and endpoints only; the Key Vault URIs name secrets, they hold none.
output AZURE_REDIS_ENDPOINT string = redisEndpoint
output AZURE_KEY_VAULT_MESSAGE_BUS_URI string = keyVault.outputs.messageBusUri
output AZURE_KEY_VAULT_ADMIN_KEY_URI string = keyVault.outputs.adminKeyUri
output AZURE_KEY_VAULT_CONSOLE_KEY_URI string = keyVault.outputs.consoleKeyUri
output AZURE_KEY_VAULT_PII_KEY_URI string = keyVault.outputs.piiKeyUri
// Empty without OpenID Connect; the console template then leaves these settings out, as app.bicep does.
output AZURE_KEY_VAULT_CONSOLE_OIDC_CLIENT_SECRET_URI string = keyVault.outputs.consoleOidcClientSecretUri
output SERVICE_CONSOLE_OIDC_AUTHORITY string = consoleOidcAuthorityValue
output SERVICE_CONSOLE_OIDC_CLIENT_ID string = consoleOidcClientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.appInsightsConnectionString
output SERVICE_MIGRATOR_IDENTITY_ID string = identities.outputs.migrator.id
output SERVICE_MIGRATOR_IDENTITY_CLIENT_ID string = identities.outputs.migrator.clientId
output SERVICE_REGISTRY_IDENTITY_ID string = identities.outputs.registry.id
output SERVICE_REGISTRY_IDENTITY_CLIENT_ID string = identities.outputs.registry.clientId
output SERVICE_REGISTRY_IDENTITY_PRINCIPAL_ID string = identities.outputs.registry.principalId
output SERVICE_INFERENCE_IDENTITY_ID string = identities.outputs.inference.id
output SERVICE_INFERENCE_IDENTITY_CLIENT_ID string = identities.outputs.inference.clientId
output SERVICE_INFERENCE_IDENTITY_PRINCIPAL_ID string = identities.outputs.inference.principalId
output SERVICE_INFERENCE_WORKLOAD_PROFILE string = inferenceWorkloadProfile
output SERVICE_INFERENCE_CPU string = inferenceCpu
output SERVICE_INFERENCE_MEMORY string = inferenceMemory
output SERVICE_ORCHESTRATOR_IDENTITY_ID string = identities.outputs.orchestrator.id
output SERVICE_ORCHESTRATOR_IDENTITY_CLIENT_ID string = identities.outputs.orchestrator.clientId
output SERVICE_TRAINER_IDENTITY_ID string = identities.outputs.trainer.id
output SERVICE_TRAINER_IDENTITY_CLIENT_ID string = identities.outputs.trainer.clientId
output SERVICE_DRIFT_MONITOR_IDENTITY_ID string = identities.outputs.driftMonitor.id
output SERVICE_DRIFT_MONITOR_IDENTITY_CLIENT_ID string = identities.outputs.driftMonitor.clientId
output SERVICE_CONSOLE_IDENTITY_ID string = identities.outputs.console.id
output SERVICE_CONSOLE_IDENTITY_CLIENT_ID string = identities.outputs.console.clientId
output SERVICE_GATEWAY_IDENTITY_ID string = identities.outputs.gateway.id
output SERVICE_GATEWAY_IDENTITY_CLIENT_ID string = identities.outputs.gateway.clientId
output SERVICE_GATEWAY_IDENTITY_PRINCIPAL_ID string = identities.outputs.gateway.principalId
