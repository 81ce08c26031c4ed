namespace NanoVlm.Cli;

/// <summary>How the user started this command line, for the hints it prints: <c>./run nanovlm</c> (the script sets it) or <c>nanovlm</c>.</summary>
public static class CommandName
{
    public static string Current => Environment.GetEnvironmentVariable("NANOVLM_COMMAND") is { Length: > 0 } name ? name : "nanovlm";
}
