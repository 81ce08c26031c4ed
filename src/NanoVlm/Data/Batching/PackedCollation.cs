using NanoVlm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NanoVlm.Data;

/// <summary>
/// Collates packed rows: each row is its samples' ids end to end, left-padded to the longest row of the batch. labels[t] =
/// input_ids[t+1] where t+1 is a target of the same sample, else -100; sequence ids number the samples of a row 1..k (0 = padding);
/// images follow row order, then sample order within a row.
/// </summary>
public static class PackedCollation
{
    public static VlmBatch Collate(IReadOnlyList<IReadOnlyList<EncodedSample>> rows, int padId, int imageSize)
    {
        var length = rows.Max(r => r.Sum(s => s.InputIds.Length));
        var ids = new long[rows.Count * length];
        var mask = new long[ids.Length];
        var labels = new long[ids.Length];
        var sequence = new long[ids.Length];
        Array.Fill(ids, padId);
        Array.Fill(labels, VlmProcessor.Ignore);
        for (var r = 0; r < rows.Count; r++)
        {
            var offset = (r + 1) * length - rows[r].Sum(s => s.InputIds.Length);
            for (var k = 0; k < rows[r].Count; k++)
            {
                var s = rows[r][k];
                for (var t = 0; t < s.InputIds.Length; t++, offset++)
                {
                    ids[offset] = s.InputIds[t];
                    mask[offset] = 1;
                    sequence[offset] = k + 1;
                    if (t + 1 < s.InputIds.Length && s.IsTarget[t + 1]) labels[offset] = s.InputIds[t + 1];
                }
            }
        }
        var samples = rows.SelectMany(r => r).ToArray();
        var all = samples.SelectMany(s => s.Images).ToArray();
        var images = VisionLanguageModel.StackImages(all) ?? zeros(0, 3, imageSize, imageSize);
        foreach (var image in all) image.Dispose();
        return new VlmBatch(tensor(ids, [rows.Count, length]), tensor(mask, [rows.Count, length]), tensor(labels, [rows.Count, length]),
            images, samples.Select(s => s.Sample).ToArray(), samples.Select(_ => "").ToArray())
        {
            SequenceIds = tensor(sequence, [rows.Count, length]),
        };
    }
}
