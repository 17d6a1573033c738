namespace Flywheel.AppHost.Infrastructure;

/// <summary>
/// A piece of infrastructure as a service sees it: the connection string it is given and, when
/// the AppHost runs the server itself, the resource to wait for until it is healthy.
/// </summary>
internal sealed record Dependency(IResourceBuilder<IResourceWithConnectionString> Connection, IResourceBuilder<IResource>? Server);

internal sealed record FlywheelInfrastructure(Dependency Database, Dependency OnlineStore, Dependency MessageBus, Dependency Artifacts);
