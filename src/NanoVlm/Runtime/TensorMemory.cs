using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace NanoVlm.Runtime;

/// <summary>The memory behind a tensor, for native code that reads or writes it in place (the CPU kernels, MPI).</summary>
public static partial class TensorMemory
{
    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The address of the first element (the tensor's storage plus its offset); the tensor must stay alive and, for a flat view, be contiguous.</summary>
    public static IntPtr Pointer(Tensor t) => THSTensor_data(t.Handle);
}
