using System.Buffers.Binary;
using System.Text;
using NanoVlm.Models;
using static TorchSharp.torch;
using NanoVlm.Checkpoints;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.IO;

public class CheckpointTests
{
    [Fact]
    public void SaveThenLoadIsBitIdenticalAndFollowsNanoVlmConventions()
    {
        using var dir = new TempDir();
        using var model = TestModels.Create();
        Checkpoint.Save(model, dir.Path);
        using var loaded = Checkpoint.Load(dir.Path);
        var original = model.state_dict();
        foreach (var (name, tensor) in loaded.state_dict())
            Assert.True(tensor.eq(original[name]).all().item<bool>(), name);

        using var file = SafetensorsFile.Open(dir[CheckpointLayout.WeightsFile]);
        Assert.Contains(VisionLanguageModel.TiedHead, file.Entries.Keys);
        Assert.DoesNotContain(VisionLanguageModel.TiedEmbedding, file.Entries.Keys);
        Assert.Contains("decoder.rotary_embd.inv_freq", file.Entries.Keys);
        Assert.All(file.Entries.Values, e => Assert.Equal("F32", e.Dtype));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void HalfPrecisionFilesLoadConverted(ScalarType dtype)
    {
        using var dir = new TempDir();
        using var model = TestModels.Create();
        model.Config.Save(dir[CheckpointLayout.ConfigFile]);
        var half = model.state_dict().Where(kv => kv.Key != VisionLanguageModel.TiedEmbedding)
            .ToDictionary(kv => kv.Key, kv => kv.Value.to(dtype));
        SafetensorsFile.Save(dir[CheckpointLayout.WeightsFile], half);
        using var loaded = Checkpoint.Load(dir.Path);
        foreach (var (name, tensor) in loaded.state_dict())
        {
            Assert.Equal(ScalarType.Float32, tensor.dtype);
            Assert.True(tensor.eq(half[model.StoredName(name)].to(float32)).all().item<bool>(), name);
        }
    }

    [Fact]
    public void AcceptsTheEmbeddingNameForATiedHead()
    {
        using var dir = new TempDir();
        using var model = TestModels.Create();
        model.Config.Save(dir[CheckpointLayout.ConfigFile]);
        SafetensorsFile.Save(dir[CheckpointLayout.WeightsFile], model.state_dict().Where(kv => kv.Key != VisionLanguageModel.TiedHead));
        using var loaded = Checkpoint.Load(dir.Path);
        var head = loaded.state_dict()[VisionLanguageModel.TiedHead];
        Assert.True(head.eq(model.state_dict()[VisionLanguageModel.TiedHead]).all().item<bool>());
    }

    static string SavedCheckpoint(TempDir dir)
    {
        using var model = TestModels.Create();
        Checkpoint.Save(model, dir.Path);
        return dir.Path;
    }

    static string LoadError(string folder) =>
        Assert.Throws<NanoVlmException>(() => Checkpoint.Load(folder).Dispose()).Message;

    [Fact]
    public void MissingFilesAreNamed()
    {
        using var dir = new TempDir();
        SavedCheckpoint(dir);
        File.Delete(dir[CheckpointLayout.WeightsFile]);
        Assert.Contains("missing model.safetensors", LoadError(dir.Path));
        File.Delete(dir[CheckpointLayout.ConfigFile]);
        Assert.Contains("missing config.json", LoadError(dir.Path));
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var dir = new TempDir();
        using var model = TestModels.Create();
        model.Config.Save(dir[CheckpointLayout.ConfigFile]);
        SafetensorsFile.Save(dir[CheckpointLayout.WeightsFile], model.state_dict().Where(kv => kv.Key != "decoder.norm.weight"));
        Assert.Contains("missing tensor 'decoder.norm.weight'", LoadError(dir.Path));
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        using var dir = new TempDir();
        using var model = TestModels.Create();
        model.Config.Save(dir[CheckpointLayout.ConfigFile]);
        SafetensorsFile.Save(dir[CheckpointLayout.WeightsFile], model.state_dict().Append(new("decoder.extra.weight", zeros(2))));
        Assert.Contains("unexpected tensor 'decoder.extra.weight'", LoadError(dir.Path));
    }

    [Fact]
    public void ShapeDisagreeingWithConfigIsNamed()
    {
        using var dir = new TempDir();
        SavedCheckpoint(dir);
        (TestModels.Tiny with { LmInterDim = 48 }).Save(dir[CheckpointLayout.ConfigFile]);
        var message = LoadError(dir.Path);
        Assert.Contains("tensor 'decoder.blocks.0.mlp.gate_proj.weight' has shape [64, 32] but the config expects [48, 32]", message);
    }

    [Fact]
    public void TruncatedWeightsAreAnError()
    {
        using var dir = new TempDir();
        SavedCheckpoint(dir);
        var bytes = File.ReadAllBytes(dir[CheckpointLayout.WeightsFile]);
        File.WriteAllBytes(dir[CheckpointLayout.WeightsFile], bytes[..(bytes.Length / 2)]);
        Assert.Contains("outside the data section", LoadError(dir.Path));
    }

    [Theory]
    [InlineData("not json at all", "header is not valid JSON")]
    [InlineData("[1, 2]", "header is not a JSON object")]
    [InlineData("{\"a\": {\"dtype\": \"F99\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "unsupported dtype 'F99'")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", "= 8 bytes but its data_offsets span 4")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "invalid dimension -1")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 4]}}", "overflows")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [2, 6]}}", "overlaps")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", "outside the data section")]
    [InlineData("{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {}}}}}}", "not valid JSON")]
    public void GarbledHeadersAreClearErrors(string header, string expected)
    {
        using var dir = new TempDir();
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 6];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(dir["x.safetensors"], bytes);
        var e = Assert.Throws<NanoVlmException>(() => SafetensorsFile.Open(dir["x.safetensors"]).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(dir["x.safetensors"], e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void HugeHeaderLengthIsRefusedBeforeAllocating()
    {
        using var dir = new TempDir();
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue / 2);
        File.WriteAllBytes(dir["x.safetensors"], bytes);
        var e = Assert.Throws<NanoVlmException>(() => SafetensorsFile.Open(dir["x.safetensors"]).Dispose());
        Assert.Contains("exceeds", e.Message);
    }
}
