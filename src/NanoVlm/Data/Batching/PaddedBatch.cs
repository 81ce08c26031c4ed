namespace NanoVlm.Data;

/// <summary>Token ids left-padded to a common length, with 1 in the attention mask on real tokens and 0 on padding.</summary>
public sealed record PaddedBatch(int[][] InputIds, int[][] AttentionMask)
{
    public int Length => InputIds.Length == 0 ? 0 : InputIds[0].Length;

    public static PaddedBatch LeftPad(IReadOnlyList<int[]> sequences, int padId)
    {
        var length = sequences.Count == 0 ? 0 : sequences.Max(s => s.Length);
        var ids = new int[sequences.Count][];
        var mask = new int[sequences.Count][];
        for (var i = 0; i < sequences.Count; i++)
        {
            var pad = length - sequences[i].Length;
            ids[i] = new int[length];
            mask[i] = new int[length];
            Array.Fill(ids[i], padId, 0, pad);
            sequences[i].CopyTo(ids[i], pad);
            Array.Fill(mask[i], 1, pad, sequences[i].Length);
        }
        return new PaddedBatch(ids, mask);
    }
}
