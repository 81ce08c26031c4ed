namespace NanoVlm.Server;

/// <summary>A refused request: its HTTP status and OpenAI's error fields (<c>type</c>, <c>param</c>, <c>code</c>).</summary>
sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, param, code);
}
