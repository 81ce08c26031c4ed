using NanoVlm.Serving;

namespace NanoVlm.Tests.Serving;

/// <summary>
/// The image-embedding cache on the golden v0.2 model (its image is split into tiles): a second turn that sends the image again
/// takes every tile's encoding from the cache, and the answers are those of an engine without the cache, token for token.
/// </summary>
public class ImageCacheTests
{
    [Fact]
    public async Task ASecondTurnWithTheSameImageIsNotEncodedAgainAndAnswersTheSame()
    {
        using var vlm = ServedModel.LoadApart();
        var image = ServedModel.Decoded(vlm, 0);
        using var cached = new ChatEngine(vlm, new ChatEngineOptions());
        using var plain = new ChatEngine(vlm, new ChatEngineOptions { ImageCacheBytes = 0 });
        Assert.Null(plain.ImageCache);

        var first = await cached.Submit(ServedModel.Turn([image], "What is in the image?")).ResultAsync();
        var tiles = cached.ImageCache!.Misses;
        Assert.True(tiles > 1, "the golden image is split into tiles");
        Assert.Equal(0, cached.ImageCache.Hits);
        Assert.True(cached.ImageCache.Bytes > 0);

        var second = ServedModel.Turn([image], "What is in the image?", first.Choices[0].Text, "Describe it again.");
        var withCache = await cached.Submit(second).ResultAsync();
        Assert.Equal(tiles, cached.ImageCache.Hits);
        Assert.Equal(tiles, cached.ImageCache.Misses);
        var without = await plain.Submit(second).ResultAsync();
        Assert.Equal(without.Choices[0].Text, withCache.Choices[0].Text);
        Assert.Equal(without.CompletionTokens, withCache.CompletionTokens);
        Assert.Equal(first.Choices[0].Text, (await plain.Submit(ServedModel.Turn([image], "What is in the image?")).ResultAsync()).Choices[0].Text);
    }

    [Fact]
    public void TileKeysFollowThePixelsTheSettingsAndTheTilesPlace()
    {
        var image = new NanoVlm.Data.RgbImage(3, 2, [.. Enumerable.Range(0, 18).Select(i => (byte)i)]);
        var keys = ImageEmbeddingCache.TileKeys([image, image], [2, 3], "settings");
        Assert.Equal(5, keys.Length);
        Assert.Equal(keys[..2], keys[2..4]);
        Assert.Equal(3, keys.Distinct().Count());
        var changed = image with { Pixels = [.. image.Pixels] };
        changed.Pixels[17] ^= 1;
        Assert.Empty(ImageEmbeddingCache.TileKeys([changed], [2], "settings").Intersect(keys));
        Assert.Empty(ImageEmbeddingCache.TileKeys([image], [2], "other settings").Intersect(keys));
        Assert.Empty(ImageEmbeddingCache.TileKeys([new NanoVlm.Data.RgbImage(2, 3, image.Pixels)], [2], "settings").Intersect(keys));
        Assert.Throws<ArgumentException>(() => ImageEmbeddingCache.TileKeys([image], [1, 1], "settings"));
    }

    [Fact]
    public void AnEncodingKeepsNoAutogradGraph()
    {
        // A stored encoding that kept its graph held the vision encoder's activations: 8 GB for one 2048 px image of the 230M model.
        using var vlm = ServedModel.LoadApart();
        using var cache = new ImageEmbeddingCache(1 << 20);
        var image = ServedModel.Decoded(vlm, 0);
        using var batch = vlm.Processor.EncodeChat([new NanoVlm.Data.PromptMessage("user", "hi")], [image]);
        Assert.True(vlm.Model.parameters().Any(p => p.requires_grad), "the model's weights require no gradient: the test proves nothing");
        var keys = ImageEmbeddingCache.TileKeys([image], batch.TilesPerImage, vlm.Processor.ImageSettings);
        using var first = cache.Encode(vlm.Model, batch.Images, keys);
        using var second = cache.Encode(vlm.Model, batch.Images, keys);
        Assert.False(first.requires_grad);
        Assert.False(second.requires_grad);
        Assert.True(cache.Hits > 0);
    }

    [Fact]
    public async Task TheCacheKeepsWithinItsBytes()
    {
        using var vlm = ServedModel.LoadApart();
        var image = ServedModel.Decoded(vlm, 0);
        using var probe = new ChatEngine(vlm, new ChatEngineOptions());
        await probe.Submit(ServedModel.Turn([image], "Hi")).ResultAsync();
        var perTile = probe.ImageCache!.Bytes / probe.ImageCache.Misses;
        // Room for two tiles: the others are pushed out, and the next request encodes again what was pushed out.
        using var small = new ChatEngine(vlm, new ChatEngineOptions { ImageCacheBytes = 2 * perTile });
        await small.Submit(ServedModel.Turn([image], "Hi")).ResultAsync();
        Assert.Equal(2 * perTile, small.ImageCache!.Bytes);
        await small.Submit(ServedModel.Turn([image], "Hi")).ResultAsync();
        Assert.True(small.ImageCache.Misses > probe.ImageCache.Misses, "tiles pushed out are encoded again");
        Assert.True(small.ImageCache.Bytes <= 2 * perTile);
    }
}
