using NanoVlm.Generation;

namespace NanoVlm.Tests.Generation;

public class AnswerTextTests
{
    [Fact]
    public void Text_that_may_begin_a_stop_string_is_held_back_and_the_answer_ends_before_the_stop()
    {
        using var vlm = TestModels.Vlm(TestModels.Create());
        var answer = new AnswerText(vlm.Tokenizer, ["w4 w5"]);
        var released = new[] { 2, 3, 4 }.Select(id => answer.Add(id)).ToList();
        Assert.Equal(["w2", " w3", " "], released);      // "w4" may begin "w4 w5": held
        Assert.False(answer.Stopped);
        released.Add(answer.Add(5));
        Assert.True(answer.Stopped);
        Assert.Equal("w2 w3 ", answer.Text);
        Assert.Equal(answer.Text, string.Concat(released));
    }

    [Fact]
    public void Held_text_that_does_not_become_a_stop_string_is_released()
    {
        using var vlm = TestModels.Vlm(TestModels.Create());
        var answer = new AnswerText(vlm.Tokenizer, ["w4 w5"]);
        var released = new[] { 4, 6 }.Select(id => answer.Add(id)).ToList();
        Assert.Equal(["", "w4 w6"], released);
        Assert.Equal("", answer.Finish());
        Assert.Equal(2, answer.Tokens);
    }
}
