using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NanoVlm.Generation.Kernels;

/// <summary>
/// The vector operations a kernel needs, for one vector width: a kernel written once against it is compiled for each width it is
/// instantiated with (a struct type argument), with the calls inlined.
/// </summary>
internal unsafe interface IFloatLanes<TVector> where TVector : unmanaged
{
    static abstract int Count { get; }
    static abstract TVector Load(float* p);
    static abstract TVector FusedMultiplyAdd(TVector a, TVector b, TVector addend);
    static abstract float Sum(TVector v);
}

/// <summary>8 floats: AVX2 (and emulated with 128-bit vectors elsewhere).</summary>
internal readonly unsafe struct Lanes256 : IFloatLanes<Vector256<float>>
{
    public static int Count => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> addend) => Vector256.FusedMultiplyAdd(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}

/// <summary>16 floats: AVX-512, used only where <see cref="Vector512.IsHardwareAccelerated"/>.</summary>
internal readonly unsafe struct Lanes512 : IFloatLanes<Vector512<float>>
{
    public static int Count => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> addend) => Vector512.FusedMultiplyAdd(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}
