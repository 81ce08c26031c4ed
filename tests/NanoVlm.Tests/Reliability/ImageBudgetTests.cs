using NanoVlm.Data;
using SkiaSharp;
using static NanoVlm.Tests.Data.ImageBytes;

namespace NanoVlm.Tests.Reliability;

/// <summary>Data workers decoding huge images wait for each other: the pixels decoded at once stay within the processor's budget.</summary>
public sealed class ImageBudgetTests
{
    [Fact]
    public async Task A_lease_waits_until_the_pixels_it_needs_are_free()
    {
        var budget = new PixelBudget(100);
        var first = budget.Acquire(60);
        var second = Task.Run(() => budget.Acquire(60));
        await Task.Delay(200);
        Assert.False(second.IsCompleted);
        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        budget.Acquire(1_000).Dispose(); // more than the whole budget takes all of it
    }

    [Fact]
    public async Task Decoding_holds_the_image_pixels_against_the_processor_budget()
    {
        var processor = new ImageProcessor(8, new ImageLimits(MaxPixelsInFlight: 600));
        var png = Encode(Pattern(20, 20), 20, 20, SKEncodedImageFormat.Png); // 400 pixels
        var held = processor.InFlight.Acquire(300);
        var decode = Task.Run(() => processor.Process(png, "big.png"));
        await Task.Delay(200);
        Assert.False(decode.IsCompleted, "decoded 400 pixels while only 300 of 600 were free");
        held.Dispose();
        (await decode.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        processor.InFlight.Acquire(600).Dispose(); // the decode gave its pixels back
    }
}
