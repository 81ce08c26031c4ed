using System.Text.Json;
using NanoVlm.Tests.Data;
using SkiaSharp;

namespace NanoVlm.Tests.Cli;

public static class TestJsonl
{
    /// <summary>A JSONL dataset of 20px PNGs: striped ones are "stripes", plain ones "plain". Returns the .jsonl path.</summary>
    public static string Write(string folder, int count = 24)
    {
        Directory.CreateDirectory(folder);
        var lines = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var striped = i % 2 == 0;
            var rgb = ImageBytes.Pattern(20, 20, seed: i);
            if (striped) for (var p = 0; p < rgb.Length; p += 6) rgb[p] = rgb[p + 1] = rgb[p + 2] = 255;
            File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), ImageBytes.Encode(rgb, 20, 20, SKEncodedImageFormat.Png));
            lines.Add(JsonSerializer.Serialize(new
            {
                images = new[] { $"{i}.png" },
                conversations = new[] { new { user = "What is this?", assistant = striped ? "stripes" : "plain" } },
            }));
        }
        var file = Path.Combine(folder, "data.jsonl");
        File.WriteAllLines(file, lines);
        return file;
    }
}
