using System.CommandLine;
using NanoVlm.Checkpoints;
using NanoVlm.Data;
using NanoVlm.Hub;
using NanoVlm.Models;
using Spectre.Console;
using NanoVlm.Pretrained;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm data preview|stats &lt;source&gt;</c>: look at a dataset before training on it.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var cmd = new Command("data", "Inspect a data source (the names --data takes)");
        cmd.Subcommands.Add(Preview());
        cmd.Subcommands.Add(Stats());
        return cmd;
    }

    static (Argument<string> Source, Option<string?> Tokenizer, Option<string?> Preset, Option<string?> Config, Option<string?> Model) Common(Command cmd)
    {
        var source = new Argument<string>("source") { Description = "fashion-mnist[:folder] | cauldron:<folder|file.parquet>[,subset...] | mmstar:<file|folder> | jsonl:<file> | hf:<repo>[:subset]" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer for token counts: folder, tokenizer.json, repo id or 'wordlevel' (built from the samples); default: the config's lm_tokenizer" };
        var preset = new Option<string?>("--preset") { Description = "model preset whose image token count and lm_max_length apply (default 222m)" };
        var config = new Option<string?>("--config") { Description = "a config.json instead of a preset" };
        var model = new Option<string?>("--model") { Description = "a checkpoint (folder or repo id) whose config and tokenizer apply, instead of a preset" };
        cmd.Arguments.Add(source);
        cmd.Options.Add(tokenizer);
        cmd.Options.Add(preset);
        cmd.Options.Add(config);
        cmd.Options.Add(model);
        return (source, tokenizer, preset, config, model);
    }

    static Command Preview()
    {
        var cmd = new Command("preview", "Row counts and the first samples verbatim (images, question, answer, token counts)");
        var (source, tokenizer, preset, config, model) = Common(cmd);
        var n = new Option<int>("--n") { Description = "samples to show", DefaultValueFactory = _ => 3 };
        cmd.Options.Add(n);
        cmd.SetAction(parse =>
        {
            using var session = Session.Open(parse.GetValue(source)!, parse.GetValue(preset), parse.GetValue(config), parse.GetValue(model));
            var samples = DatasetView.All(session.Dataset).ReadInOrder().Take(Math.Max(0, parse.GetValue(n))).ToList();
            var (tok, missing) = session.Tokenizer(parse.GetValue(tokenizer), samples);
            using var _ = tok;
            var counter = tok is null ? null : new VlmProcessor(session.Config, tok);
            Console.WriteLine($"source: {session.Dataset.Name}");
            // Token counts depend on the model: say whose they are (the 222m preset gives every image 49 tokens, the tiny one 1).
            Console.WriteLine($"token counts as {session.ModelName} sees them ({session.Config.MpImageTokenLength} tokens per image{(session.Config.Generation.SplitsImages() ? " tile" : "")}; --model, --preset or --config for another)");
            Console.WriteLine($"rows: {session.Dataset.Count:N0}");
            if (session.Dataset is CauldronDataset cauldron)
                Console.WriteLine($"subsets: {string.Join(", ", cauldron.SubsetCounts().Select(kv => $"{kv.Key} {kv.Value:N0}"))}");
            var processor = new ImageProcessor(session.Config.VitImgSize);
            foreach (var (sample, i) in samples.Select((s, i) => (s, i)))
            {
                Console.WriteLine($"\nsample {i + 1} ({sample.Source})");
                var sizes = sample.Images.Select(img =>
                {
                    try { var d = img.Decode(processor); return $"{d.Width}x{d.Height}"; }
                    catch (NanoVlmException e) { return $"undecodable: {e.Message}"; }
                });
                Console.WriteLine($"  images: {sample.Images.Count} ({string.Join(", ", sizes)})");
                if (sample.Category is not null) Console.WriteLine($"  category: {sample.Category} / {sample.L2Category}");
                foreach (var turn in sample.Turns)
                {
                    Console.WriteLine($"  user: {turn.User}");
                    Console.WriteLine($"  assistant: {turn.Assistant}");
                }
                if (counter is not null && Session.TokenCount(counter, sample) is (var total, var image))
                    Console.WriteLine($"  tokens: {total} ({image} image tokens)");
            }
            if (missing is not null) Console.WriteLine($"\n{missing}");
            return 0;
        });
        return cmd;
    }

    static Command Stats()
    {
        var cmd = new Command("stats", "Histograms of tokens and images per sample, to choose lm_max_length");
        var (source, tokenizer, preset, config, model) = Common(cmd);
        var limit = new Option<int?>("--limit") { Description = "look at the first N samples only" };
        cmd.Options.Add(limit);
        cmd.SetAction(parse =>
        {
            using var session = Session.Open(parse.GetValue(source)!, parse.GetValue(preset), parse.GetValue(config), parse.GetValue(model));
            IEnumerable<VqaSample> Samples() => DatasetView.All(session.Dataset).ReadInOrder().Take(parse.GetValue(limit) ?? int.MaxValue);
            var (tok, missing) = session.Tokenizer(parse.GetValue(tokenizer), Samples());
            using var _ = tok ?? throw new NanoVlmException(missing!);
            var counter = new VlmProcessor(session.Config, tok);
            var tokens = new List<int>();
            var images = new List<int>();
            foreach (var sample in Samples())
            {
                if (Session.TokenCount(counter, sample) is not (var total, _)) continue;
                tokens.Add(total);
                images.Add(sample.Images.Count);
            }
            Console.WriteLine($"source: {session.Dataset.Name}, {tokens.Count:N0} samples ({session.Dataset.Skipped.Total} rows skipped)");
            Histogram("tokens per sample (image tokens included)", tokens);
            var over = tokens.Count(t => t > session.Config.LmMaxLength);
            Console.WriteLine($"longer than lm_max_length {session.Config.LmMaxLength}: {over:N0} ({(tokens.Count == 0 ? 0 : 100.0 * over / tokens.Count):F1}%)");
            Histogram("images per sample", images);
            return 0;
        });
        return cmd;
    }

    static void Histogram(string title, List<int> values)
    {
        Console.WriteLine($"\n{title}");
        if (values.Count == 0)
        {
            Console.WriteLine("  (no samples)");
            return;
        }
        var sorted = values.Order().ToArray();
        int P(double q) => sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(q * sorted.Length))];
        Console.WriteLine($"  min {sorted[0]}  p50 {P(0.5)}  p90 {P(0.9)}  p99 {P(0.99)}  max {sorted[^1]}");
        var (lo, hi) = (sorted[0], sorted[^1]);
        var width = Math.Max(1, (int)Math.Ceiling((hi - lo + 1) / 10.0));
        var buckets = sorted.GroupBy(v => (v - lo) / width).ToDictionary(g => g.Key, g => g.Count());
        var most = buckets.Values.Max();
        for (var b = 0; b * width + lo <= hi; b++)
        {
            var count = buckets.GetValueOrDefault(b);
            var range = width == 1 ? $"{lo + b * width}" : $"{lo + b * width}-{lo + (b + 1) * width - 1}";
            Console.WriteLine($"  {range,11} | {new string('#', (int)Math.Round(40.0 * count / most)),-40} {count:N0}");
        }
    }

    sealed class Session(IVqaDataset dataset, VlmConfig config, string modelName, string? modelFolder, HubClient hub) : IDisposable
    {
        public IVqaDataset Dataset { get; } = dataset;
        public VlmConfig Config { get; } = config;
        /// <summary>Whose counts these are: the checkpoint, the config file or the preset.</summary>
        public string ModelName { get; } = modelName;

        public static Session Open(string source, string? preset, string? configFile, string? model)
        {
            if (new[] { preset, configFile, model }.Count(x => x is not null) > 1) throw new NanoVlmException("give only one of --model, --preset and --config");
            var folder = model is null ? null : PretrainedSources.ResolveModelFolder(model, new ConsoleDownloadProgress());
            (VlmConfig config, string name) = folder is not null ? (new CheckpointLayout(folder).ReadConfig(), model!)
                : configFile is not null ? (VlmConfig.Load(configFile), configFile)
                : (Presets.Get(preset ?? "222m"), $"the {preset ?? "222m"} preset");
            var hub = new HubClient(HubOptions.FromEnvironment(), new ConsoleDownloadProgress());
            try { return new Session(DataSource.Parse(source).Open(trainSplit: true, hub), config, name, folder, hub); }
            catch
            {
                hub.Dispose();
                throw;
            }
        }

        /// <summary>The tokenizer for token counts, or null with the reason when none can be had (offline, missing).</summary>
        public (Tokenizer? Tokenizer, string? Missing) Tokenizer(string? name, IEnumerable<VqaSample> samples)
        {
            var folder = Directory.CreateTempSubdirectory("nanovlm-tokenizer-");
            try
            {
                var own = modelFolder is not null && new CheckpointLayout(modelFolder).HasTokenizer ? modelFolder : null;
                return (PretrainedSources.PrepareTokenizer(name ?? own ?? Config.LmTokenizer, Config, () => samples, folder.FullName), null);
            }
            catch (NanoVlmException e) when (name is null)
            {
                return (null, $"token counts need a tokenizer: {Config.LmTokenizer} could not be loaded ({e.Message}); give --tokenizer");
            }
            finally
            {
                folder.Delete(recursive: true);
            }
        }

        /// <summary>The training sequence's length through the config's processor, and how many positions its images take.</summary>
        public static (int Total, int Image)? TokenCount(VlmProcessor processor, VqaSample sample)
        {
            var encoded = processor.EncodeForTraining(sample, enforceMaxLength: false);
            if (encoded is null) return null;
            foreach (var t in encoded.Images) t.Dispose();
            var image = processor.ImageTokenCount(encoded);
            return (encoded.InputIds.Length + (processor.Generation == CheckpointGeneration.V01 ? image : 0), image);
        }

        public void Dispose() => hub.Dispose();
    }
}
