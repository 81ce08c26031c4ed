namespace NanoVlm.Tests;

/// <summary>
/// Tests that must not overlap any other: <see cref="Devices.OnMeta"/> switches libtorch's default device process-wide, so a
/// test building on the meta device makes tensors created meanwhile by a parallel test meta tensors; the benchmarks
/// create many tensors on the default device; and the kernel tests change libtorch's threads.
/// </summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;
