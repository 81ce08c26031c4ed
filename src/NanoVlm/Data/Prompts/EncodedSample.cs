using TorchSharp;

namespace NanoVlm.Data;

/// <summary>A sample ready for batching: its token ids, which positions are targets (answer tokens and their eos), and its image tensors.</summary>
public sealed record EncodedSample(VqaSample Sample, int[] InputIds, bool[] IsTarget, torch.Tensor[] Images, string? Answer = null);
