namespace NanoVlm.Tests;

/// <summary>
/// Tests that publish or run ./run's app without the NuGet libtorch (NanoVlmBackend=external): one at a time, so that two
/// builds of it never overlap, and the first one's build serves the others.
/// </summary>
[CollectionDefinition(nameof(ExternalApp))]
public sealed class ExternalApp;
