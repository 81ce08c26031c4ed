using NanoVlm.Models;
using static TorchSharp.torch;

namespace NanoVlm.Tests.Models;

public class KvCacheTests
{
    static readonly VlmConfig Cfg = TestModels.Tiny;

    /// <summary>A one-row cache of <paramref name="length"/> positions whose keys and values are all <paramref name="value"/>.</summary>
    static KvCache Filled(int length, float value)
    {
        var cache = new KvCache(Cfg, 1, length, float32, CPU);
        for (var l = 0; l < Cfg.LmNBlocks; l++)
        {
            using var k = full([1, Cfg.LmNKvHeads, length, Cfg.LmHeadDim], value);
            cache.Append(l, k, k);
        }
        cache.Advance(length);
        return cache;
    }

    /// <summary>Row <paramref name="row"/>'s keys of layer 0 at every slot up to the cache's length, one number per slot.</summary>
    static float[] Slots(KvCache cache, int row)
    {
        using var keys = cache.Layer(0).Keys.narrow(2, 0, cache.Length);
        return keys[row, 0, .., 0].data<float>().ToArray();
    }

    [Fact]
    public void A_row_joins_in_place_into_a_departed_rows_slot_and_sees_nothing_it_left()
    {
        using var a = Filled(5, 1);
        using var poisoned = Filled(4, float.NaN);
        using var merged = KvCache.Merge([(a, [0]), (poisoned, [0])], extra: 4, spareRows: 1);
        Assert.Equal((2, 3), (merged.Rows, merged.RowCapacity));
        Assert.Equal([0L, 1L], merged.RowStarts!.data<long>().ToArray());

        merged.RemoveRow(1);
        using var c = Filled(3, 3);
        Assert.True(merged.TryJoin(c, copies: 2, extra: 4));

        Assert.Equal(3, merged.Rows);
        Assert.Equal([0L, 2L, 2L], merged.RowStarts!.data<long>().ToArray());
        Assert.Equal([1f, 1, 1, 1, 1], Slots(merged, 0));
        Assert.Equal([0f, 0, 3, 3, 3], Slots(merged, 1));
        Assert.Equal([0f, 0, 3, 3, 3], Slots(merged, 2));
        Assert.Equal(3, merged.Layer(0).Keys.shape[0]);
    }

    [Fact]
    public void The_last_row_takes_the_place_of_one_that_leaves()
    {
        using var a = Filled(2, 1);
        using var b = Filled(3, 2);
        using var c = Filled(4, 3);
        using var merged = KvCache.Merge([(a, [0]), (b, [0]), (c, [0])], extra: 1);
        merged.RemoveRow(0);
        Assert.Equal(2, merged.Rows);
        Assert.Equal([0L, 1L], merged.RowStarts!.data<long>().ToArray());
        Assert.Equal([3f, 3, 3, 3], Slots(merged, 0));
        Assert.Equal([0f, 2, 2, 2], Slots(merged, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => merged.RemoveRow(2));
    }

    [Fact]
    public void A_row_that_does_not_fit_is_not_joined()
    {
        using var a = Filled(3, 1);
        using var merged = KvCache.Merge([(a, [0])], extra: 2, spareRows: 1);
        using var longer = Filled(4, 2);
        using var shorter = Filled(2, 2);
        Assert.False(merged.TryJoin(longer, 1, 1));   // more positions than the batch has
        Assert.False(merged.TryJoin(shorter, 2, 1));  // more rows than it has room for
        Assert.False(merged.TryJoin(shorter, 1, 3));  // more tokens to come than it has room for
        Assert.Equal(1, merged.Rows);
        using var plain = new KvCache(Cfg, 2, 4, float32, CPU);
        Assert.False(plain.TryJoin(shorter, 1, 1));   // a left-padded batch has no row starts
        Assert.True(merged.TryJoin(shorter, 1, 2));
    }
}
