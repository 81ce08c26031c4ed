using NanoVlm.Evaluation;

namespace NanoVlm.Tests.Evaluation;

/// <summary>
/// Each task's prompt equals what lmms-eval's <c>doc_to_text</c> returns for the same document with the YAML's default
/// <c>lmms_eval_specific_kwargs</c> (the expected strings are its output, at lmms-eval 75571cf), and its images are those of
/// <c>doc_to_visual</c>, in order.
/// </summary>
public class TaskPromptTests
{
    static EvalDoc Doc(params (string Column, object? Value)[] row) => new(0, row.ToDictionary(c => c.Column, c => c.Value), "test doc 0");

    [Fact]
    public void MmStarDropsTheYesNoSuffixAndAddsTheLetterInstruction() => Assert.Equal(
        "Which option describes the image?\nOptions: A: a cat, B: a dog, C: a bird, D: a fish\nAnswer with the option's letter from the given choices directly",
        new MmStarTask().Prompt(Doc(("question", "  Which option describes the image? Please answer yes or no.\nOptions: A: a cat, B: a dog, C: a bird, D: a fish  "))));

    [Fact]
    public void MmmuMultipleChoiceListsOptionsAndNamesItsImages()
    {
        var doc = Doc(("question", "<image 1> What is shown? Compare with <image 2>."), ("options", "['A cat', \"A dog's toy\", '<image 3>']"),
            ("question_type", "multiple-choice"));
        var task = new MmmuTask();
        Assert.Equal("<image 1> What is shown? Compare with <image 2>.\nA. A cat\nB. A dog's toy\nC. <image 3>\n\nAnswer with the option's letter from the given choices directly.",
            task.Prompt(doc));
        Assert.Equal(["image_1", "image_2", "image_3"], task.ImageColumns(doc));
    }

    [Fact]
    public void MmmuOpenQuestion()
    {
        var doc = Doc(("question", "How many <image 1> items?"), ("options", "[]"), ("question_type", "open"));
        Assert.Equal("How many <image 1> items?\n\nAnswer the question using a single word or phrase.", new MmmuTask().Prompt(doc));
        Assert.Equal(["image_1"], new MmmuTask().ImageColumns(doc));
    }

    [Fact]
    public void TextVqaCapitalizesAsPython() => Assert.Equal(
        "What does the sign say about nasa?\nAnswer the question using a single word or phrase.",
        new TextVqaTask().Prompt(Doc(("question", "what does the sign say about NASA?"))));

    [Fact]
    public void ScienceQaWithAndWithoutContext()
    {
        Assert.Equal("Context: The figure shows a magnet.\nWhich pole is north?\nA. left\nB. right\nAnswer with the option's letter from the given choices directly.",
            ScienceQaTask.Full().Prompt(Doc(("hint", "The figure shows a magnet."), ("question", "Which pole is north?"), ("choices", new List<object?> { "left", "right" }))));
        var noHint = Doc(("hint", ""), ("question", "Which is a mammal?"), ("choices", new List<object?> { "frog", "whale", "trout" }), ("image", null));
        Assert.Equal("Which is a mammal?\nA. frog\nB. whale\nC. trout\nAnswer with the option's letter from the given choices directly.",
            ScienceQaTask.WithImages().Prompt(noHint));
        Assert.Empty(ScienceQaTask.Full().ImageColumns(noHint));
    }

    [Fact]
    public void Ai2dMultipleChoice() => Assert.Equal(
        "What eats the grass?\nA. rabbit\nB. hawk\nC. sun\nD. soil\nAnswer with the option's letter from the given choices directly.",
        new Ai2dTask().Prompt(Doc(("question", "What eats the grass?"), ("options", new List<object?> { "rabbit", "hawk", "sun", "soil" }))));

    [Fact]
    public void MmeReplacesItsYesNoSuffix() => Assert.Equal(
        "Is there a dog in the image?\nAnswer the question using a single word or phrase.",
        new MmeTask().Prompt(Doc(("question", "Is there a dog in the image? Please answer yes or no."))));

    [Theory]
    [InlineData("docvqa_val", "What is the date?", "What is the date?\nAnswer the question using a single word or phrase.")]
    [InlineData("infovqa_val", " How many? ", " How many? \nAnswer the question using a single word or phrase.")]
    [InlineData("chartqa", "Which year is highest?", "Which year is highest?\nAnswer the question with a single word.")]
    [InlineData("pope", " Is there a cat in the image? ", "Is there a cat in the image?\nAnswer the question using a single word or phrase.")]
    [InlineData("ocrbench", " what is written in the image? ", "what is written in the image?")]
    public void QuestionThenPostPrompt(string task, string question, string prompt) =>
        Assert.Equal(prompt, BenchmarkTasks.Get(task).Prompt(Doc(("question", question))));

    [Fact]
    public void GenerationSettingsFollowTheYaml()
    {
        var expected = new Dictionary<string, (int MaxNewTokens, string Until)>
        {
            ["mmstar"] = (50, "\n\n"), ["mmmu_val"] = (128, "\n\n"), ["ocrbench"] = (128, "\n\n"), ["textvqa_val"] = (50, "ASSISTANT:"),
            ["docvqa_val"] = (32, "\n\n"), ["infovqa_val"] = (32, "\n\n"), ["scienceqa"] = (16, "\n\n"), ["scienceqa_img"] = (16, "\n\n"),
            ["mme"] = (16, "\n\n"), ["chartqa"] = (16, "\n\n"), ["ai2d"] = (16, "\n\n"), ["pope"] = (128, "\n\n"),
        };
        Assert.Equal(expected.Keys.Order(), BenchmarkTasks.Names.Order());
        foreach (var (name, (max, until)) in expected)
        {
            var task = BenchmarkTasks.Get(name);
            Assert.Equal(max, task.MaxNewTokens ?? BenchmarkTask.DefaultMaxNewTokens);
            Assert.Equal(until, Assert.Single(task.Until));
        }
        Assert.Equal(["mmstar", "mmmu_val", "ocrbench", "textvqa_val", "docvqa_val", "scienceqa", "mme", "infovqa_val", "chartqa"],
            BenchmarkTasks.Parse("nanovlm").Select(t => t.Name));
    }

    [Fact]
    public void UnknownTaskIsOneLine()
    {
        var e = Assert.Throws<NanoVlm.Runtime.NanoVlmException>(() => BenchmarkTasks.Parse("mmstar,mmlu"));
        Assert.StartsWith("Tasks unknown task 'mmlu' (known: mmstar, mmmu_val", e.Message);
    }
}

/// <summary>
/// <c>--prompt-format nanovlm</c>: the prompts nanoVLM's lmms-eval wrapper (huggingface/nanoVLM <c>eval/lmms_eval_wrapper.py</c>, at
/// 4e0c096) builds from lmms-eval's, its <c>apply_benchmark_formatting</c> run on the same inputs.
/// </summary>
public class NanoVlmPromptFormatTests
{
    [Theory]
    [InlineData("mmstar", "Which?\nOptions: A: x, B: y\nAnswer with the option's letter from the given choices directly",
        "Which?\nChoices: A: x, B: y\nAnswer with the letter directly", "Answer:")]
    [InlineData("ai2d", "What eats?\nA. rabbit\nB. hawk\nAnswer with the option's letter from the given choices directly.",
        "What eats?\nChoices:\nA. rabbit\nB. hawk\nAnswer with the letter directly.", "Answer:")]
    [InlineData("mmmu_val", "Question: <image 1> What?\nA. x\nB. y\n\nAnswer with the option's letter from the given choices directly.",
        " <image 1> What?\nChoices:\nA. x\nB. y\n\nAnswer with the letter directly.", "Answer:")]
    [InlineData("docvqa_val", "What is the date?\nAnswer the question using a single word or phrase.",
        "Give a short and terse answer to the following question. Do not paraphrase or reformat the text you see in the image. Do not include any full stops. Just give the answer without additional explanation. Question: What is the date?\nAnswer the question using a single word or phrase.", "")]
    [InlineData("mme", "Is there a dog?\nAnswer the question using a single word or phrase.",
        "Is there a dog?\nAnswer the question using a single word or phrase.\nGive a very brief answer.", "")]
    [InlineData("chartqa", "Which year?\nAnswer the question with a single word.", "Which year?\nAnswer the question with a single word.", "")]
    [InlineData("textvqa_val", "What brand?\nAnswer the question using a single word or phrase.",
        "Answer the following question about the image using as few words as possible. Follow these additional instructions:\n-Always answer a binary question with Yes or No.\n-When asked what time it is, reply with the time seen in the image.\n-Do not put any full stops at the end of the answer.\n-Do not put quotation marks around the answer.\n-An answer with one or two words is favorable.\n-Do not apply common sense knowledge. The answer can be found in the image.\nQuestion: What brand?\nAnswer the question using a single word or phrase.", "")]
    public void RewritesAsNanoVlmsWrapper(string task, string prompt, string user, string assistant) =>
        Assert.Equal((user, assistant), NanoVlmPromptFormat.Apply(task, prompt));
}
