namespace NanoVlm.Evaluation;

/// <summary>
/// CPython's <c>random</c> module for the one call lmms-eval's MMMU scorer makes, <c>random.choice</c>, after <c>random.seed(n)</c>:
/// MT19937 seeded through <c>init_by_array</c> with the seed's 32-bit words, and <c>_randbelow</c> drawing
/// <c>getrandbits(k)</c> (the top k bits of one output) until the value is below n.
/// </summary>
public sealed class PythonRandom
{
    const int N = 624, M = 397;
    readonly uint[] mt = new uint[N];
    int index = N + 1;

    public PythonRandom(ulong seed)
    {
        var key = new List<uint>();
        do { key.Add((uint)seed); seed >>= 32; } while (seed != 0);
        InitByArray(key);
    }

    public T Choice<T>(IReadOnlyList<T> items) => items[Below(items.Count)];

    int Below(int n)
    {
        var k = 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)n);
        uint r;
        do r = Next() >> (32 - k); while (r >= n);
        return (int)r;
    }

    void InitGenrand(uint s)
    {
        mt[0] = s;
        for (index = 1; index < N; index++)
            mt[index] = 1812433253u * (mt[index - 1] ^ (mt[index - 1] >> 30)) + (uint)index;
    }

    void InitByArray(IReadOnlyList<uint> key)
    {
        InitGenrand(19650218u);
        int i = 1, j = 0;
        for (var k = Math.Max(N, key.Count); k > 0; k--)
        {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint)j;
            i++; j++;
            if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
            if (j >= key.Count) j = 0;
        }
        for (var k = N - 1; k > 0; k--)
        {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint)i;
            i++;
            if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
        }
        mt[0] = 0x80000000u;
        index = N;
    }

    uint Next()
    {
        if (index >= N)
        {
            for (var k = 0; k < N; k++)
            {
                var y = (mt[k] & 0x80000000u) | (mt[(k + 1) % N] & 0x7fffffffu);
                mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908b0dfu);
            }
            index = 0;
        }
        var x = mt[index++];
        x ^= x >> 11;
        x ^= (x << 7) & 0x9d2c5680u;
        x ^= (x << 15) & 0xefc60000u;
        x ^= x >> 18;
        return x;
    }
}
