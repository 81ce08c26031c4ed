using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Tests.Reliability;

/// <summary>Hostile config.json files (Corpus/config): wrong types, impossible or huge sizes; all refused before anything is built.</summary>
[Collection(nameof(RunsAlone))] // builds on the meta device, which is process-wide
public sealed class ConfigHostileTests
{
    public static TheoryData<string> CorpusFiles => HostileInput.Corpus("config");

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_configs_are_refused_with_one_line_naming_the_file(string file)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("config"), file);
        HostileInput.Refused(() => VlmConfig.Load(path), path);
    }

    [Theory]
    [InlineData("terabyte-model.json", "TB in fp32")]
    [InlineData("terabyte-vocab.json", "over the limit of 2e10")]
    [InlineData("too-many-patches.json", "patches per image, over the limit")]
    [InlineData("null-dict.json", "vlm_extra_tokens")]
    [InlineData("null-string.json", "lm_model_type must be a string")]
    [InlineData("wrong-type-bool.json", "at 'vit_n_blocks'")]
    [InlineData("int-overflow.json", "at 'lm_vocab_size'")]
    [InlineData("deeply-nested.json", "depth")]
    public void Messages_name_the_problem(string file, string problem)
    {
        var path = Path.Combine(HostileInput.CorpusFolder("config"), file);
        HostileInput.Refused(() => VlmConfig.Load(path), path, problem);
    }

    [Fact]
    public void The_parameter_estimate_is_exact_so_the_cap_refuses_only_what_it_should()
    {
        foreach (var cfg in new[] { new VlmConfig(), TestModels.Tiny, TestModels.Tiny with { LmTieWeights = false } })
        {
            using var model = Devices.OnMeta(() => new VisionLanguageModel(cfg, initWeights: false));
            Assert.Equal(model.ParameterCounts().Total, cfg.EstimatedParameters());
            var (vision, projector, decoder, _) = model.ParameterCounts();
            var estimate = cfg.EstimatedParameterCounts();
            Assert.Equal(((double)vision, (double)projector, (double)decoder), (estimate.Vision, estimate.Projector, estimate.Decoder));
        }
    }
}
