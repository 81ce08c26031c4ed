namespace NanoVlm.Tests.Reliability;

/// <summary>
/// The real command line on hostile arguments and environments: exit 1 and one <c>error: ...</c> line naming the option, file or
/// variable, never a stack trace, an abort or the whole help.
/// </summary>
public sealed class CliArgumentTests : IDisposable
{
    readonly TempDir _dir = new();

    static void AssertOneLineError((int Code, string Out, string Err) result, string expected)
    {
        Assert.True(result.Code == 1, $"exit {result.Code}: {result.Err}");
        var lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, result.Err);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", result.Err + result.Out);
        Assert.DoesNotContain("Usage:", result.Err + result.Out);
    }

    public static TheoryData<string[], string> HostileArguments() => new()
    {
        { ["train", "--seed", "99999999999999999999"], "--seed" },
        { ["train", "--epochs", "many"], "--epochs" },
        { ["frobnicate"], "frobnicate" },
        { ["train", "--threads", "-1"], "--threads" },
        { ["train", "--threads", "100000"], "--threads" },
        { ["train", "--weight-decay", "NaN"], "--weight-decay" },
        { ["train", "--lr-mp", "Infinity"], "--lr-mp" },
        { ["train", "--batch-size", "2147483647"], "--batch-size" },
        { ["bench", "train", "--preset", "tiny", "--seq-len", "100000000"], "--seq-len" },
        { ["bench", "train", "--preset", "tiny", "--peak-sizes", "100000"], "--peak-sizes" },
        { ["tokenize", "--tokenizer", "/dev/zero", "x"], "/dev/zero" },
        { ["info", "--config", "/dev/zero"], "/dev/zero" },
        { ["serve", "--model", ServingFolder, "--image-cache-mb", "-1"], "--image-cache-mb must be >= 0, got -1" },
        { ["serve", "--model", ServingFolder, "--cache-gb", "-2"], "--cache-gb must be >= 0, got -2" },
        { ["serve", "--model", ServingFolder, "--prefill-chunk", "-3"], "--prefill-chunk must be >= 0, got -3" },
        { ["serve", "--model", ServingFolder, "--idle-prefill-chunk", "-1"], "--idle-prefill-chunk must be >= 0, got -1" },
        { ["eval", "--responses", "/no/such/samples_pope.jsonl"], "--responses /no/such/samples_pope.jsonl: no such file" },
        { ["eval", "--tasks", "pope", "--model", ServingFolder, "--dataset", "nope=/tmp"], "unknown task 'nope'" },
        { ["bench", "serve", "--model", ServingFolder, "--turns", "3"], "--turns needs --image" },
        { ["bench", "train", "--preset", "tiny", "--distributed", "mpi"], "--distributed 'mpi'" },
    };

    static string ServingFolder => System.IO.Path.Combine(GoldenCases.CopyRoot("golden-v02"), "v02-public-a");

    [Theory]
    [MemberData(nameof(HostileArguments))]
    public void Hostile_arguments_end_in_one_error_line(string[] args, string expected) => AssertOneLineError(CliProcess.Run(args), expected);

    [Theory]
    [InlineData("--cutoff", "-5", "--cutoff")]
    [InlineData("--epochs", "2147483647", "--epochs")]
    [InlineData("--grad-accum", "2147483647", "--grad-accum")]
    public void Training_values_the_data_cannot_honour_end_in_one_error_line(string option, string value, string expected)
    {
        var data = Cli.TestJsonl.Write(_dir["data"], count: 8);
        AssertOneLineError(CliProcess.Run("train", "--preset", "tiny", "--data", $"jsonl:{data}", "--tokenizer", "wordlevel", "--output", _dir["runs"],
            "--threads", "1", "--workers", "1", "--batch-size", "2", "--grad-accum", "1", option, value), expected);
    }

    public static TheoryData<string[], string> HostileGenerationArguments() => new()
    {
        { ["generate", "--temperature", "NaN"], "temperature" },
        { ["generate", "--temperature", "Infinity"], "temperature" },
        { ["generate", "--max-new-tokens", "2147483647"], "exceeds the model's context" },
        { ["generate", "--prompt", string.Concat(Enumerable.Repeat("what is this? ", 7_000))], "exceeds the model's context" },
        { ["eval", "--batch-size", "0"], "--batch-size" },
        { ["eval", "--batch-size", "-1"], "--batch-size" },
    };

    /// <summary>Against a small real checkpoint (the v0.2 golden case, 512 positions); eval reads a JSONL of two samples.</summary>
    [Theory]
    [MemberData(nameof(HostileGenerationArguments))]
    public void Hostile_generation_and_evaluation_values_end_in_one_error_line(string[] args, string expected)
    {
        string[] model = ["--model", Serving.ServedModel.Folder];
        string[] rest = args[0] == "eval" ? ["--data", $"jsonl:{Cli.TestJsonl.Write(_dir["data"], count: 2)}"] : ["--generations", "1"];
        AssertOneLineError(CliProcess.Run([args[0], .. model, .. rest, .. args[1..]]), expected);
    }

    [Fact]
    public void A_fifo_as_image_or_config_ends_in_one_error_line_without_blocking()
    {
        var fifo = SpecialFiles.Fifo(_dir["image.png"]);
        AssertOneLineError(CliProcess.Run("generate", "--model", Serving.ServedModel.Folder, "--image", fifo, "--generations", "1"), "a FIFO");
    }

    [Fact]
    public void A_fifo_as_config_ends_in_one_error_line_without_blocking()
    {
        var fifo = SpecialFiles.Fifo(_dir["config.json"]);
        AssertOneLineError(CliProcess.Run("info", "--config", fifo), "a FIFO");
    }

    [Theory]
    [InlineData("HF_TOKEN", "hf_abc\nhf_def")]
    [InlineData("HF_ENDPOINT", "ftp://user:s3cret@example.com")]
    public void Hostile_hub_variables_end_in_one_error_line_that_hides_them(string variable, string value)
    {
        var result = CliProcess.Run(new Dictionary<string, string> { [variable] = value, ["HF_HUB_CACHE"] = _dir["cache"] }, "download", "org/model");
        AssertOneLineError(result, variable);
        Assert.DoesNotContain("abc", result.Err);
        Assert.DoesNotContain("s3cret", result.Err);
    }

    [Fact]
    public void Info_on_a_config_with_a_16m_vocabulary_counts_without_allocating()
    {
        var config = _dir["config.json"];
        File.WriteAllText(config, "{\"lm_vocab_size\": 16777216, \"lm_base_vocab_size\": 16777215}");
        var (code, output, error) = CliProcess.Run("info", "--config", config);
        Assert.True(code == 0, error);
        Assert.Contains("total parameters: 9,857,446,464", output);
    }

    public void Dispose() => _dir.Dispose();
}
