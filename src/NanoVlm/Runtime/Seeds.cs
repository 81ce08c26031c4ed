namespace NanoVlm.Runtime;

/// <summary>Derives seeds from seeds. Not <see cref="HashCode.Combine{T1, T2}"/>: that is randomised per process, so a resumed
/// (or repeated) run would shuffle differently.</summary>
public static class Seeds
{
    public static int Combine(int seed, int value) => unchecked(seed * 1_000_003 + value * 7_919 + 0x5eed);
}
