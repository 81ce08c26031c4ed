using System.Text.RegularExpressions;
using NanoVlm.Runtime;

namespace NanoVlm.Cli;

/// <summary>The command line's spelling of the library's parameters: an error about <c>BatchSize</c> reads <c>--batch-size ...</c>.</summary>
public static partial class ParameterFlags
{
    static readonly Dictionary<string, string> Renamed = new()
    {
        ["GradientAccumulationSteps"] = "--grad-accum",
        ["Backend"] = "--distributed",
    };

    /// <summary>The exception's message, its leading parameter name (if any) written as the flag that sets it.</summary>
    public static string Message(Exception e) =>
        e is NanoVlmException { Parameter: { } parameter } && e.Message.StartsWith(parameter, StringComparison.Ordinal)
            ? Flag(parameter) + e.Message[parameter.Length..]
            : e.Message;

    public static string Flag(string parameter) =>
        Renamed.GetValueOrDefault(parameter) ?? "--" + WordStart().Replace(parameter, "-$1").ToLowerInvariant();

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex WordStart();
}
