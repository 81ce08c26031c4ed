using System.CommandLine;
using NanoVlm.Benchmarks;
using Spectre.Console;

namespace NanoVlm.Cli.Commands;

public static partial class BenchCommand
{
    static Command Json()
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "a byte-level BPE tokenizer folder or tokenizer.json", Required = true };
        var schema = new Option<string?>("--schema") { Description = "a JSON schema file (default: any JSON object)" };
        var answers = IntOption("--answers", 4, "answers written, each token picked at random among the allowed ones");
        var maxTokens = IntOption("--max-tokens", 200, "tokens per answer at most");
        var json = JsonOption();
        var cmd = new Command("json", "Structured output's token mask: time per decoding step inside strings and elsewhere")
            { tokenizer, schema, answers, maxTokens, json };
        cmd.SetAction(parse =>
        {
            var o = new JsonMaskBenchOptions
            {
                Tokenizer = parse.GetValue(tokenizer)!, Schema = parse.GetValue(schema), Answers = parse.GetValue(answers), MaxTokens = parse.GetValue(maxTokens),
            };
            var rows = Record(JsonMaskBench.Run(o), parse.GetValue(json), r => $"{r.Where}: median {r.MedianMs:F2} ms over {r.Steps} steps");
            var table = Table($"bench json: {o.Schema ?? "any object"}, {rows[0].Vocabulary} tokens, {o.Answers} answers of up to {o.MaxTokens} tokens",
                "where", "steps", "allowed tokens (mean)", "median ms", "p99 ms");
            foreach (var r in rows) table.AddRow(r.Where, $"{r.Steps}", $"{r.MeanAllowed:F0}", $"{r.MedianMs:F2}", $"{r.P99Ms:F2}");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }
}
