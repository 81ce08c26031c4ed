namespace NanoVlm.Runtime;

/// <summary>An error caused by the user's input (a file, a flag, a value). Its message is one line that names the culprit.</summary>
public class NanoVlmException(string message, Exception? inner = null) : Exception(message, inner);
