using TorchSharp.Modules;
using static TorchSharp.torch;
using NanoVlm.Runtime;

namespace NanoVlm.Training;

/// <summary>
/// Parameters (one dtype, one device) re-pointed at consecutive slices of one flat tensor, and their gradients at slices
/// of another, so that an optimizer step, clipping or a precision copy is a few whole-buffer operations instead of a
/// few per parameter (on a GPU each operation is a kernel launch). Backward accumulates into the gradient slices in
/// place; assigning a new <c>.grad</c> to one of these parameters detaches it from <see cref="Grad"/>.
/// </summary>
public sealed class FlatParameters : IDisposable
{
    readonly long[] offsets;

    /// <summary><paramref name="multiple"/>: the buffers' length is rounded up to a multiple of it (zeros after the parameters), so that they split into equal shards.</summary>
    public FlatParameters(IReadOnlyList<(string Name, Parameter Param)> parameters, int multiple = 1)
    {
        Names = parameters.Select(p => p.Name).ToList();
        Params = parameters.Select(p => p.Param).ToList();
        offsets = new long[Params.Count + 1];
        for (var i = 0; i < Params.Count; i++) offsets[i + 1] = offsets[i] + Params[i].numel();
        var (dtype, device) = Params.Count == 0 ? (ScalarType.Float32, CPU) : (Params[0].dtype, Params[0].device);
        foreach (var (name, p) in parameters)
            if (p.dtype != dtype || p.device_type != device.type || p.device_index != device.index)
                throw new NanoVlmException($"{name}: {p.dtype} on {p.device}, but the other parameters are {dtype} on {device}");
        using var _ = no_grad();
        Length = offsets[^1];
        var padded = (Length + multiple - 1) / multiple * multiple;
        Data = zeros(padded, dtype, device).DetachFromDisposeScope();
        Grad = zeros(padded, dtype, device).DetachFromDisposeScope();
        for (var i = 0; i < Params.Count; i++)
        {
            using var values = Slice(Data, i);
            using var grad = Slice(Grad, i);
            values.copy_(Params[i]);
            Params[i].set_(values);
            Params[i].grad = grad;
        }
    }

    public IReadOnlyList<string> Names { get; }
    public IReadOnlyList<Parameter> Params { get; }

    /// <summary>The parameters' values in all (the buffers may be longer: see the constructor).</summary>
    public long Length { get; }

    /// <summary>Where parameter <paramref name="index"/> starts in the flat buffers.</summary>
    public long Offset(int index) => offsets[index];

    /// <summary>Every parameter's values, in order.</summary>
    public Tensor Data { get; }

    /// <summary>Every parameter's gradient, in order.</summary>
    public Tensor Grad { get; }

    /// <summary>Parameter <paramref name="index"/>'s part of a flat tensor laid out like <see cref="Data"/>, in its shape.</summary>
    public Tensor Slice(Tensor flat, int index) =>
        flat.narrow(0, offsets[index], offsets[index + 1] - offsets[index]).view(Params[index].shape);

    public void Dispose()
    {
        Data.Dispose();
        Grad.Dispose();
    }
}
