using NanoVlm.Runtime;
namespace NanoVlm.Data;

/// <summary>
/// The chat template of current nanoVLM checkpoints (<c>lm_chat_template</c>, ChatML):
/// <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message, then <c>&lt;|im_start|&gt;assistant\n</c> when a reply is asked for.
/// </summary>
public static class ChatTemplate
{
    /// <summary>nanoVLM's default <c>lm_chat_template</c> (the Jinja source this class implements).</summary>
    public const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    public const string AssistantPrefix = "<|im_start|>assistant\n";

    /// <summary>Refuses a template other than ChatML (whitespace between Jinja tags aside): we do not run arbitrary Jinja.</summary>
    public static void Check(string template, string source)
    {
        if (Normalize(template) != Normalize(ChatMl))
            throw new NanoVlmException($"{source}: lm_chat_template is not nanoVLM's ChatML template, the only one supported");
    }

    public static string Apply(IEnumerable<PromptMessage> messages, bool addGenerationPrompt) =>
        string.Concat(messages.Select(m => $"<|im_start|>{m.Role}\n{m.Content}<|im_end|>\n")) + (addGenerationPrompt ? AssistantPrefix : "");

    static string Normalize(string template) => string.Concat(template.Where(c => !char.IsWhiteSpace(c) || c == '\n'));
}
