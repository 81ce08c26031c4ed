using static TorchSharp.torch;

namespace NanoVlm.Data;

/// <summary>
/// One image as nanoVLM's current pipeline feeds it: float32 <c>[n, 3, S, S]</c> tiles in [0, 1] (the global tile first when
/// there is one, then the <see cref="Rows"/> x <see cref="Cols"/> grid row-major), contiguous, on the CPU.
/// </summary>
public sealed record SplitImage(Tensor Tiles, int Rows, int Cols) : IDisposable
{
    public void Dispose() => Tiles.Dispose();
}
