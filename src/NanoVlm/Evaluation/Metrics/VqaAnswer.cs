using System.Text.RegularExpressions;

namespace NanoVlm.Evaluation;

/// <summary>
/// The EvalAI answer normalization of VQA and TextVQA (lmms-eval's <c>EvalAIAnswerProcessor</c>, from mmf): lower case, commas and
/// '?' dropped, punctuation removed or turned into spaces, periods not before a digit removed (at most 32, as the original's
/// <c>re.sub</c> receives <c>re.UNICODE</c> as its count), number words to digits, articles dropped, contractions restored.
/// </summary>
public static partial class VqaAnswer
{
    static readonly string[] Punctuation = [";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"];
    static readonly Dictionary<string, string> Numbers = new()
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5",
        ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };
    static readonly HashSet<string> Articles = ["a", "an", "the"];

    // The mmf table, as "written form=restored form" pairs (a few entries can never match after lower-casing; kept as published).
    static readonly Dictionary<string, string> Contractions = """
        aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've couldnt've=couldn't've
        didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've hadn'tve=hadn't've hasnt=hasn't havent=haven't
        hed=he'd hed've=he'd've he'dve=he'd've hes=he's howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm
        Ive=I've isnt=isn't itd=it'd itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
        mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've neednt=needn't notve=not've
        oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at 'ow'sat='ow's'at shant=shan't shed've=she'd've
        she'dve=she'd've she's=she's shouldve=should've shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've
        somebody'd=somebodyd somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll somebodys=somebody's
        someoned=someone'd someoned've=someone'd've someone'dve=someone'd've someonell=someone'll someones=someone's
        somethingd=something'd somethingd've=something'd've something'dve=something'd've somethingll=something'll thats=that's
        thered=there'd thered've=there'd've there'dve=there'd've therere=there're theres=there's theyd=they'd theyd've=they'd've
        they'dve=they'd've theyll=they'll theyre=they're theyve=they've twas='twas wasnt=wasn't wed've=we'd've we'dve=we'd've
        weve=we've werent=weren't whatll=what'll whatre=what're whats=what's whatve=what've whens=when's whered=where'd
        wheres=where's whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's whove=who've
        whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't wouldnt've=wouldn't've
        wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll y'allll=y'all'll yall'd've=y'all'd've y'alld've=y'all'd've
        y'all'dve=y'all'd've youd=you'd youd've=you'd've you'dve=you'd've youll=you'll youre=you're youve=you've
        """.Split([' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);

    public static string Normalize(string answer)
    {
        var text = PyText.Strip(answer.ToLowerInvariant().Replace(",", "").Replace("?", "").Replace("'s", " 's"));
        text = PyText.Strip(text.Replace('\n', ' ').Replace('\t', ' '));
        text = RemovePunctuation(text);
        var words = PyText.Split(text.ToLowerInvariant())
            .Select(w => Numbers.GetValueOrDefault(w, w))
            .Where(w => !Articles.Contains(w))
            .Select(w => Contractions.GetValueOrDefault(w, w));
        return string.Join(' ', words);
    }

    static string RemovePunctuation(string text)
    {
        var output = text;
        var digitComma = DigitComma().IsMatch(text);
        foreach (var p in Punctuation)
            output = text.Contains(p + " ", StringComparison.Ordinal) || text.Contains(" " + p, StringComparison.Ordinal) || digitComma
                ? output.Replace(p, "")
                : output.Replace(p, " ");
        return PeriodNotBeforeDigit().Replace(output, "", 32);
    }

    /// <summary>TextVQA's accuracy: for each of the ten answers, min(1, matches among the other nine / 3); their mean.</summary>
    public static double Accuracy(string response, IReadOnlyList<string> answers)
    {
        if (answers.Count == 0) return 0;
        var predicted = Normalize(response);
        var golds = answers.Select(Normalize).ToList();
        return golds.Select((_, i) => Math.Min(1.0, golds.Where((g, j) => j != i && g == predicted).Count() / 3.0)).Average();
    }

    [GeneratedRegex(@"(?<=\d)(\,)+(?=\d)")]
    private static partial Regex DigitComma();

    [GeneratedRegex(@"(?!<=\d)(\.)(?!\d)")]
    private static partial Regex PeriodNotBeforeDigit();
}
