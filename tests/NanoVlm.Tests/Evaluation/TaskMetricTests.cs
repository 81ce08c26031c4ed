using NanoVlm.Evaluation;

namespace NanoVlm.Tests.Evaluation;

/// <summary>
/// Each task's answer parsing and metric on the edge cases of its rules. The expected values are those of lmms-eval's own functions
/// (EvolvingLMMs-Lab/lmms-eval at 75571cf, run on the same inputs); the file each rule comes from is named above its test.
/// </summary>
public class TaskMetricTests
{
    static EvalDoc Doc(params (string Column, object? Value)[] row) =>
        new(0, row.ToDictionary(c => c.Column, c => c.Value), "test doc 0");

    // tasks/_task_utils/mcq_extract.py (extract_mcq_answer), as MMStar scores with it.
    [Theory]
    [InlineData("(B)", "B")]
    [InlineData("The answer is c.", "")]
    [InlineData("The answer is C.", "C")]
    [InlineData("B", "B")]
    [InlineData("I think the answer is B because A is wrong", "A")]
    [InlineData("A and B", "A")]
    [InlineData("Answer: D", "D")]
    [InlineData("", "")]
    [InlineData("b", "")]
    [InlineData("The correct option is (C).", "C")]
    [InlineData("CAT", "A")]
    [InlineData("  D.  ", "D")]
    [InlineData("Option B is correct; A) is not", "A")]
    [InlineData("A: apple, B: banana", "A")]
    [InlineData("(A) cat (B) dog", "B")]
    [InlineData("E", "")]
    [InlineData("The image shows a dog", "")]
    public void MmStarLetter(string response, string letter) =>
        Assert.Equal(letter, ChoiceLetter.Extract(response, ["A", "B", "C", "D"]));

    // tasks/mmstar/utils.py: mmstar_aggregate_results is the mean over l2 categories of their means.
    [Fact]
    public void MmStarAverageIsTheMeanOfL2CategoryMeans()
    {
        var task = new MmStarTask();
        var docs = new[] { ("x", "A"), ("x", "B"), ("y", "C") }.Select((d, i) => new EvalDoc(i, new Dictionary<string, object?>
        {
            ["index"] = (long)i, ["question"] = "q", ["answer"] = "A", ["category"] = "math", ["l2_category"] = d.Item1,
        }, $"doc {i}")).ToList();
        var scorer = new TaskScorer(task);
        scorer.Add(docs[0], "", "A");
        scorer.Add(docs[1], "", "B");
        scorer.Add(docs[2], "", "(A)");
        var result = scorer.Finish("test", 3);
        Assert.Equal(["math", "average"], result.Scores.Select(s => s.Metric));
        Assert.All(result.Scores, s => Assert.Equal(0.75, s.Value, 12));
        Assert.All(result.Scores, s => Assert.Null(s.Stderr));
    }

    // tasks/_task_utils/mmmu_mcq_utils.py: "(B)" forms, then "B ", then "B.", then option text in long answers, else random.choice
    // after random.seed(0) - Python draws D, D, A, ... from four letters.
    [Fact]
    public void MmmuChoiceParsingAndItsSeededFallback()
    {
        string[] options = ["cat", "dog", "a small bird", "fish"];
        var random = new PythonRandom(0);
        var cases = new (string Response, string Letter)[]
        {
            ("(B)", "B"), ("B is correct", "B"), ("The answer: C.", "C"),
            ("I believe it should be the small bird, a small bird indeed.", "C"), ("nothing here", "D"), ("A. cat", "A"),
            ("(A) or (C)", "C"), ("B or D ", "D"), ("the dog", "D"), ("cat dog", "A"),
        };
        foreach (var (response, letter) in cases) Assert.Equal(letter, MmmuAnswer.ParseChoice(response, options, random));
    }

    [Fact]
    public void PythonRandomChoiceMatchesCPython()
    {
        var four = new PythonRandom(0);
        Assert.Equal("DDACDDCDCBBC", string.Concat(Enumerable.Range(0, 12).Select(_ => four.Choice(["A", "B", "C", "D"]))));
        var seven = new PythonRandom(0);
        Assert.Equal("GDGDACED", string.Concat(Enumerable.Range(0, 8).Select(_ => seven.Choice(["A", "B", "C", "D", "E", "F", "G"]))));
    }

    // tasks/mmmu/utils.py: parse_open_response, normalize_str (round(x, 2) is Python's: 2.675 -> 2.67), extract_subset_name.
    [Fact]
    public void MmmuOpenParsing()
    {
        static string[] Parsed(string s) => MmmuAnswer.ParseOpen(s).Select(v => v.ToString()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["42.0"], Parsed("The answer is 42."));
        Assert.Equal(["0.0", "3,000 dollars", "3000.0"], Parsed("so the result is 3,000 dollars"));
        Assert.Equal(["2.67"], Parsed("x = 2.675"));
        Assert.Equal(["paris"], Parsed("It is Paris."));
        Assert.Equal(["1.0", "1500.0", "3.0", "answer: 1.5e3"], Parsed("Final answer: 1.5e3"));
        Assert.Equal([" a", "a "], Parsed("A"));
        Assert.Equal(["-7 and 8", "-7.0", "8.0"], Parsed(" -7 and 8"));
        Assert.Equal("Art_Theory", MmmuAnswer.Subject("validation_Art_Theory_12"));
    }

    // tasks/mmmu/utils.py: evaluate_mmmu hands eval_open a string, so each character is a "prediction": only an empty gold matches.
    [Fact]
    public void MmmuOpenJudgingComparesCharacters()
    {
        Assert.False(MmmuAnswer.JudgeOpen("42", "42.0"));
        Assert.False(MmmuAnswer.JudgeOpen("Paris", "paris"));
        Assert.True(MmmuAnswer.JudgeOpen(" ", "x"));
    }

    // tasks/mmmu/utils.py: mmmu_aggregate_results -> the instance-level accuracy, rounded to five places.
    [Fact]
    public void MmmuAccuracyOverAllQuestions()
    {
        var task = new MmmuTask();
        var scorer = new TaskScorer(task);
        var docs = new[] { ("validation_Art_1", "multiple-choice", "A", "A"), ("validation_Art_2", "multiple-choice", "B", "(A)"), ("validation_Math_1", "open", "42", "42") };
        foreach (var (d, i) in docs.Select((d, i) => (d, i)))
            scorer.Add(new EvalDoc(i, new Dictionary<string, object?>
            {
                ["id"] = d.Item1, ["question"] = "q <image 1>", ["options"] = d.Item2 == "open" ? "[]" : "['x', 'y', 'z']",
                ["answer"] = d.Item3, ["question_type"] = d.Item2,
            }, $"doc {i}"), "", d.Item4);
        var result = scorer.Finish("test", 3);
        Assert.Equal(0.33333, Assert.Single(result.Scores).Value);
        Assert.Equal(0.5, (double)result.Breakdown!["Art"]!["acc"]!);
        Assert.Equal(0.0, (double)result.Breakdown["Overall-Science"]!["acc"]!);
        Assert.Equal(0, (int)result.Breakdown["Overall-Business"]!["num"]!);
    }

    // tasks/_task_utils/vqa_eval_metric.py (EvalAIAnswerProcessor).
    [Theory]
    [InlineData("The Nike.", "nike")]
    [InlineData("two dogs", "2 dogs")]
    [InlineData("dont", "don't")]
    [InlineData("1,000", "1000")]
    [InlineData("a dog!", "dog")]
    [InlineData("Yes, it is", "yes it is")]
    [InlineData("what's this?", "what 's this")]
    [InlineData("3.5", "3.5")]
    [InlineData("end. of. line.", "end of line")]
    [InlineData("U.S.A", "usa")]
    [InlineData("hello-world", "hello world")]
    [InlineData("(a) the cat ; x", "cat x")]
    public void EvalAiNormalization(string answer, string normalized) => Assert.Equal(normalized, VqaAnswer.Normalize(answer));

    // tasks/textvqa/utils.py: min(1, matches among the other nine / 3), averaged over the ten.
    [Fact]
    public void TextVqaAccuracy()
    {
        Assert.Equal(0.9, VqaAnswer.Accuracy("Nike", ["nike", "nike", "Nike.", .. Enumerable.Repeat("adidas", 7)]), 12);
        Assert.Equal(1.0, VqaAnswer.Accuracy("two", [.. Enumerable.Repeat("2", 10)]), 12);
        Assert.Equal(1.0, VqaAnswer.Accuracy("the nike", [.. Enumerable.Repeat("nike", 4), .. Enumerable.Repeat("puma", 6)]), 12);
        Assert.Equal(0.0, VqaAnswer.Accuracy("", [.. Enumerable.Repeat("nike", 10)]));
    }

    // api/metrics.py: anls (lower-cased, whitespace collapsed; the length is that of the raw upper-cased strings; < 0.5 -> 0).
    [Theory]
    [InlineData(new[] { "Nike" }, "nike", 1.0)]
    [InlineData(new[] { "Nike Inc." }, "nike inc", 0.8888888888888888)]
    [InlineData(new[] { "1995" }, "1996", 0.75)]
    [InlineData(new[] { "hello world" }, "Hello   World", 1.0)]
    [InlineData(new[] { "abc" }, "xyz", 0.0)]
    [InlineData(new[] { "Straße" }, "strasse", 0.7142857142857143)]
    [InlineData(new[] { "ab", "abcd" }, "abc", 0.75)]
    [InlineData(new[] { "" }, "", 1.0)]
    [InlineData(new[] { "a" }, "", 0.0)]
    public void AnlsScore(string[] references, string prediction, double expected) =>
        Assert.Equal(expected, Anls.Score(references, prediction), 12);

    // tasks/chartqa/utils.py: relaxed_correctness (Python's float(): '1_000' parses, '1,000' does not; a zero target compares text).
    [Theory]
    [InlineData("12%", "0.12", true)]
    [InlineData("0.12", "12%", true)]
    [InlineData("1,000", "1000", false)]
    [InlineData("5", "5.2", true)]
    [InlineData("5.5", "5.2", false)]
    [InlineData("0", "0", true)]
    [InlineData("zero", "0", false)]
    [InlineData("nan", "nan", false)]
    [InlineData("Yes", "yes", true)]
    [InlineData("1_000", "1000", true)]
    [InlineData(" 7 ", "7", true)]
    [InlineData("inf", "inf", false)]
    [InlineData("１２", "12", true)]
    public void ChartQaRelaxedAccuracy(string prediction, string target, bool right) =>
        Assert.Equal(right, ChartQaTask.RelaxedCorrect(prediction, target));

    [Fact]
    public void ChartQaSplitsByType()
    {
        var scorer = new TaskScorer(new ChartQaTask());
        scorer.Add(Doc(("type", "human_test"), ("question", "q"), ("answer", "10")), "", "10");
        scorer.Add(Doc(("type", "augmented_test"), ("question", "q"), ("answer", "10")), "", "20");
        scorer.Add(Doc(("type", "augmented_test"), ("question", "q"), ("answer", "Yes")), "", "yes");
        var scores = scorer.Finish("test", 3).Scores.ToDictionary(s => s.Metric, s => s.Value);
        Assert.Equal(2 / 3.0, scores["relaxed_overall"], 12);
        Assert.Equal(1.0, scores["relaxed_human_split"]);
        Assert.Equal(0.5, scores["relaxed_augmented_split"]);
    }

    // tasks/ocrbench/utils.py: containment; HME100k without spaces; full-width ASCII and U+3000 folded.
    [Theory]
    [InlineData("ＨＥＬＬＯ world", "hello", "IIIT5K", true)]
    [InlineData("x ^ { 2 } + 1", "x^{2}+1", "HME100k", true)]
    [InlineData("x ^ { 2 } + 1", "x^{2}+1", "IIIT5K", false)]
    [InlineData("The answer is Cat", "cat", "IIIT5K", true)]
    [InlineData("", "a", "IIIT5K", false)]
    [InlineData("café", "CAFÉ", "IIIT5K", true)]
    [InlineData("a\u3000b", "a b", "IIIT5K", true)]
    public void OcrBenchContainment(string response, string answer, string dataset, bool right) =>
        Assert.Equal(right, OcrBenchTask.Score(response, [answer], dataset));

    [Fact]
    public void OcrBenchCountsOutOfAThousand()
    {
        var scorer = new TaskScorer(new OcrBenchTask());
        scorer.Add(Doc(("question", "q"), ("answer", new List<object?> { "cat", "kat" }), ("dataset", "IIIT5K"), ("question_type", "Regular Text Recognition")), "", "KAT");
        scorer.Add(Doc(("question", "q"), ("answer", new List<object?> { "dog" }), ("dataset", "IIIT5K"), ("question_type", "Doc-oriented VQA")), "", "cat");
        var result = scorer.Finish("test", 1000);
        Assert.Equal(0.001, Assert.Single(result.Scores).Value, 12);
        Assert.Equal(1, (int)result.Breakdown!["Text Recognition"]!);
        Assert.Throws<NanoVlm.Runtime.NanoVlmException>(() => scorer.Add(Doc(("question", "q"), ("answer", "x"), ("dataset", "d"), ("question_type", "Poetry")), "", "x"));
    }

    // tasks/mme/utils.py: parse_pred_ans (from Otter) and the per-image accuracy + acc+ sums.
    [Theory]
    [InlineData("Yes, there is", "yes")]
    [InlineData("no.", "no")]
    [InlineData("y", "yes")]
    [InlineData("N", "no")]
    [InlineData("Not sure", "no")]
    [InlineData("maybe yes", "other")]
    [InlineData("Yes.", "yes")]
    [InlineData("nope", "no")]
    [InlineData("It's yes", "other")]
    [InlineData("", "other")]
    [InlineData("   no", "no")]
    public void MmeYesNo(string response, string label) => Assert.Equal(label, MmeTask.ParseYesNo(response));

    [Fact]
    public void MmeScoresPairsWithAccPlus()
    {
        var scorer = new TaskScorer(new MmeTask());
        foreach (var (image, category, gold, response) in new[]
                 {
                     ("a.png", "count", "Yes", "yes"), ("a.png", "count", "No", "no"), ("b.png", "count", "Yes", "yes"), ("b.png", "count", "No", "yes"),
                     ("c.png", "OCR", "Yes", "no"), ("c.png", "OCR", "No", "yes"), ("d.png", "code_reasoning", "Yes", "Yes"), ("d.png", "code_reasoning", "No", "No"),
                 })
            scorer.Add(Doc(("question_id", image), ("question", "q"), ("answer", gold), ("category", category)), "", response);
        var scores = scorer.Finish("test", 8).Scores.ToDictionary(s => s.Metric, s => s.Value);
        Assert.Equal(125.0, scores["mme_perception_score"]);
        Assert.Equal(200.0, scores["mme_cognition_score"]);
    }

    // tasks/scienceqa/utils.py: the letter in any case, or "B." then anything; nothing else.
    [Theory]
    [InlineData("B. the cat", 1.0)]
    [InlineData("b", 1.0)]
    [InlineData("(B)", 0.0)]
    [InlineData("B", 1.0)]
    [InlineData("Answer: B", 0.0)]
    [InlineData("b. cat", 0.0)]
    [InlineData("B.", 1.0)]
    [InlineData("BB", 0.0)]
    public void ScienceQaLetter(string response, double score)
    {
        var doc = Doc(("choices", new List<object?> { "x", "y", "z" }), ("answer", 1L), ("question", "q"), ("hint", ""));
        Assert.Equal(score, (double)ScienceQaTask.Full().Process(doc, response.Trim(), new TaskScoring())["exact_match"]!);
    }

    // tasks/ai2d: the flexible-extract filter ("^\s*([A-Z])\.") then exact_match ignoring case and punctuation (api/metrics.py).
    [Theory]
    [InlineData("B. cat", "B", true)]
    [InlineData(" C.", "C", false)]
    [InlineData("(b)", "(b)", true)]
    [InlineData("The answer is B", "The answer is B", false)]
    [InlineData("b", "b", true)]
    [InlineData("B!", "B!", true)]
    public void Ai2dFilterAndMatch(string response, string filtered, bool right)
    {
        var task = new Ai2dTask();
        Assert.Equal(filtered, task.Filter(response).Trim());
        Assert.Equal(right, Ai2dTask.ExactMatch(task.Filter(response).Trim(), "B"));
    }

    // tasks/pope/utils.py: exact yes/no after lower-casing; precision and recall count exact answers only.
    [Fact]
    public void PopeMetrics()
    {
        var scorer = new TaskScorer(new PopeTask());
        foreach (var (i, gold, response) in new[] { (0, "yes", "Yes"), (1, "yes", "no"), (2, "no", "yes"), (3, "no", "No."), (4, "yes", "yes, there is") })
            scorer.Add(new EvalDoc(i, new Dictionary<string, object?> { ["question_id"] = (long)i, ["question"] = "q", ["answer"] = gold }, $"doc {i}"), "", response);
        var scores = scorer.Finish("test", 5).Scores.ToDictionary(s => s.Metric, s => s.Value);
        Assert.Equal(0.2, scores["pope_accuracy"], 12);
        Assert.Equal(0.5, scores["pope_precision"], 12);
        Assert.Equal(0.5, scores["pope_recall"], 12);
        Assert.Equal(0.5, scores["pope_f1_score"], 12);
        Assert.Equal(0.6, scores["pope_yes_ratio"], 12);
    }

    [Fact]
    public void MeanMetricsReportTheStandardErrorOfTheMean()
    {
        var scorer = new TaskScorer(DocVqaTask.DocVqa());
        scorer.Add(Doc(("question", "q"), ("answers", new List<object?> { "Nike" })), "", "nike");
        scorer.Add(Doc(("question", "q"), ("answers", new List<object?> { "abc" })), "", "xyz");
        var score = Assert.Single(scorer.Finish("test", 2).Scores);
        Assert.Equal(("anls", "none", 0.5), (score.Metric, score.Filter, score.Value));
        Assert.Equal(0.5, score.Stderr!.Value, 12);
    }

    [Fact]
    public void StopStringsCutTheAnswer()
    {
        Assert.Equal("yes", BenchmarkRunner.CutAtStop("yes\n\nand more", ["\n\n"]));
        Assert.Equal("a", BenchmarkRunner.CutAtStop("aASSISTANT: b", ["ASSISTANT:"]));
        Assert.Equal("same", BenchmarkRunner.CutAtStop("same", ["", "\n\n"]));
    }

    [Fact]
    public void PythonListLiterals()
    {
        Assert.Equal(["A cat", "A dog's toy", "<image 3>"], PythonLiteral.StringList("['A cat', \"A dog's toy\", '<image 3>']", "options"));
        Assert.Equal(["it's", "a\nb", "é"], PythonLiteral.StringList(@"['it\'s', 'a\nb', '\xe9']", "options"));
        Assert.Empty(PythonLiteral.StringList("[]", "options"));
        var e = Assert.Throws<NanoVlm.Runtime.NanoVlmException>(() => PythonLiteral.StringList("['a', 'b'", "doc 3: column 'options'"));
        Assert.StartsWith("doc 3: column 'options': not a Python list of strings", e.Message);
    }
}
