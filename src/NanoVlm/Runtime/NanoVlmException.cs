namespace NanoVlm.Runtime;

/// <summary>
/// An error caused by the user's input (a file, a parameter, a value). Its message is one line that names the culprit; one about a
/// parameter starts with the parameter's name (<see cref="Parameter"/>), which a front end may show as its own spelling of it.
/// </summary>
public class NanoVlmException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The parameter the message starts with (a property name such as <c>BatchSize</c>), when it is about one.</summary>
    public string? Parameter { get; private init; }

    /// <summary>"<paramref name="parameter"/> <paramref name="problem"/>", e.g. <c>BatchSize must be between 1 and 4096, got 0</c>.</summary>
    public static NanoVlmException For(string parameter, string problem) => new($"{parameter} {problem}") { Parameter = parameter };
}
