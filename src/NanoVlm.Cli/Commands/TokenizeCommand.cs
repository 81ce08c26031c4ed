using System.CommandLine;
using System.Text.Json;
using NanoVlm.Data;
using NanoVlm.Models;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Commands;

/// <summary><c>nanovlm tokenize --tokenizer PATH [--extra-tokens] TEXT...</c>: one JSON id array per text; <c>--decode</c> reverses.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "a folder holding tokenizer.json, or a tokenizer.json file", Required = true };
        var extra = new Option<bool>("--extra-tokens") { Description = "add nanoVLM's extra tokens ({\"image_token\": \"<|image|>\"}) after the vocabulary" };
        var decode = new Option<bool>("--decode") { Description = "each argument is a JSON array of ids; print its text" };
        var skip = new Option<bool>("--skip-special-tokens") { Description = "with --decode: leave special tokens out of the text" };
        var texts = new Argument<string[]>("text") { Description = "texts to encode (or id arrays to decode)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("tokenize", "Encode texts to token ids (or decode ids) with a Hugging Face tokenizer") { tokenizer, extra, decode, skip, texts };
        cmd.SetAction(parse =>
        {
            using var tok = Tokenizer.Load(parse.GetValue(tokenizer)!, parse.GetValue(extra) ? new VlmConfig().VlmExtraTokens : null);
            foreach (var text in parse.GetValue(texts)!)
                Console.WriteLine(parse.GetValue(decode)
                    ? tok.Decode(ParseIds(text), parse.GetValue(skip))
                    : JsonSerializer.Serialize(tok.Encode(text)));
            return 0;
        });
        return cmd;
    }

    static int[] ParseIds(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<int[]>(json) ?? throw new NanoVlmException($"'{json}': expected a JSON array of token ids");
        }
        catch (JsonException)
        {
            throw new NanoVlmException($"'{json}': expected a JSON array of token ids");
        }
    }
}
