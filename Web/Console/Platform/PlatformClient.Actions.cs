using Flywheel.Console.Security;

namespace Flywheel.Console.Platform;

// What the console changes on an operator's or admin's behalf: traffic and API keys. Each call
// carries the signed-in key, so the deployment history and the audit log name who did it.
public sealed partial class PlatformClient
{
    /// <summary>Sets the model's whole traffic (production, canary, shadow, sticky key), as the signed-in operator.</summary>
    public Task<ApiResult<DeploymentView>> DeployAsync(string model, DeploymentRequestBody deployment, PlatformCredential credential, CancellationToken cancellationToken) =>
        PutAsync<DeploymentView>($"/api/models/{Escape(model)}/deployment", deployment, credential, cancellationToken);

    /// <summary>Returns the model to its previous production version on all traffic, as the signed-in operator.</summary>
    public Task<ApiResult<DeploymentView>> RollbackAsync(string model, string? reason, PlatformCredential credential, CancellationToken cancellationToken) =>
        PostAsync<DeploymentView>($"/api/models/{Escape(model)}/rollback", new RollbackRequestBody(reason), credential, cancellationToken);

    /// <summary>Every API key, revoked ones too; admin only.</summary>
    public Task<ApiResult<ApiKeyList>> GetKeysAsync(PlatformCredential credential, CancellationToken cancellationToken) =>
        GetAsync<ApiKeyList>("/api/keys", cancellationToken, credential);

    /// <summary>Creates a key; the answer is the only time the key itself is seen. Admin only.</summary>
    public Task<ApiResult<CreatedApiKeyView>> CreateKeyAsync(CreateApiKeyBody key, PlatformCredential credential, CancellationToken cancellationToken) =>
        PostAsync<CreatedApiKeyView>("/api/keys", key, credential, cancellationToken);

    /// <summary>Revokes a key: it stops working at once. Admin only.</summary>
    public Task<ApiResult<Done>> RevokeKeyAsync(Guid id, PlatformCredential credential, CancellationToken cancellationToken) =>
        DeleteAsync($"/api/keys/{id}", credential, cancellationToken);
}
