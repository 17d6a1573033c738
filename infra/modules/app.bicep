// One Flywheel HTTP service as a container app. main.bicep calls this module once per service with
// literal values, so the compiled ARM template shows each service's name and environment.
//
// Every service listens on 8080 (HTTP_PORTS), answers GET /alive (liveness) and GET /health
// (readiness), runs as its own user-assigned identity and pulls its image from ACR with it.

@export()
@description('A container environment variable: a plain value or a reference to one of the app\'s secrets.')
type envVar = {
  @description('Variable name, e.g. ConnectionStrings__flywheel-db.')
  name: string
  @description('Plain value (no secrets here).')
  value: string?
  @description('Name of an entry of the secrets parameter whose value the variable gets.')
  secretRef: string?
}

@export()
@description('A container app secret that is a Key Vault reference read with a user-assigned identity.')
type keyVaultSecret = {
  @description('Secret name inside the app (lowercase letters, digits and hyphens).')
  name: string
  @description('Versionless Key Vault secret URI.')
  keyVaultUrl: string
  @description('Resource id of the user-assigned identity that reads it.')
  identity: string
}

@description('Container app name: exactly the Aspire resource name (registry, inference, orchestrator, trainer, drift-monitor, console, gateway). Other apps reach it at http://<name>.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the app; azd-service-name is added.')
param tags object

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Login server of the container registry (e.g. crxxxx.azurecr.io).')
param registryServer string

@description('Resource id of the app\'s user-assigned identity (id-<name>).')
param identityId string

@description('Container image; azd replaces the placeholder on deploy.')
param image string = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

@description('Environment variables of the container. A variable with an empty value, or whose secretRef names a secret left out (below), is left out: optional settings are passed only when given.')
param env envVar[]

@description('Key Vault-backed secrets of the app. A secret with an empty keyVaultUrl is left out (an optional secret not given).')
param secrets keyVaultSecret[] = []

@description('True only for the public entrance (gateway): ingress from the internet.')
param external bool = false

@description('Minimum replica count.')
@minValue(0)
param minReplicas int

@description('Maximum replica count.')
@minValue(1)
param maxReplicas int

@description('Container Apps scale rules (HTTP concurrency, KEDA custom rules).')
param scaleRules array = []

@description('Workload profile: Consumption, or gpu when the GPU profile exists.')
param workloadProfileName string = 'Consumption'

@description('vCPU per replica (a decimal as a string, e.g. 0.5).')
param cpu string = '0.5'

@description('Memory per replica, e.g. 1Gi.')
param memory string = '1Gi'

// Optional settings (the console's OpenID Connect client) arrive empty when not configured; they
// are dropped rather than set empty, and a Key Vault reference cannot point at nothing.
var givenSecrets = filter(secrets, secret => !empty(secret.keyVaultUrl))
var givenSecretNames = map(givenSecrets, secret => secret.name)
var givenEnv = filter(env, variable => variable.?secretRef != null ? contains(givenSecretNames, variable.?secretRef!) : !empty(variable.?value ?? ''))

resource app 'Microsoft.App/containerApps@2024-03-01' = {
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
    workloadProfileName: workloadProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: external
        targetPort: 8080
        transport: 'http'
        // Services call each other as http://<name> inside the environment; only the public
        // gateway redirects HTTP to HTTPS.
        allowInsecure: !external
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: givenSecrets
    }
    template: {
      containers: [
        {
          name: name
          image: image
          env: givenEnv
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/alive'
                port: 8080
                scheme: 'HTTP'
              }
              initialDelaySeconds: 5
              periodSeconds: 10
              timeoutSeconds: 5
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: 8080
                scheme: 'HTTP'
              }
              initialDelaySeconds: 5
              periodSeconds: 10
              timeoutSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: scaleRules
      }
    }
  }
}

output name string = app.name
output fqdn string = app.properties.configuration.ingress.fqdn
