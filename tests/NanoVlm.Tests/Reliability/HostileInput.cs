using NanoVlm.Runtime;
namespace NanoVlm.Tests.Reliability;

/// <summary>Checks for hostile inputs: the parser must refuse with a one-line <see cref="NanoVlmException"/> naming the input.</summary>
static class HostileInput
{
    public static string CorpusFolder(string kind) => Path.Combine(AppContext.BaseDirectory, "Reliability", "Corpus", kind);

    /// <summary>The committed corpus files of one parser (file names only, for readable theory cases).</summary>
    public static TheoryData<string> Corpus(string kind) => new(Directory.GetFiles(CorpusFolder(kind)).Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    /// <summary>Runs <paramref name="parse"/>, which must throw a one-line NanoVlmException that names <paramref name="source"/>
    /// and contains <paramref name="problem"/> when given; returns the message.</summary>
    public static string Refused(Action parse, string source, string? problem = null)
    {
        var e = Assert.Throws<NanoVlmException>(parse);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        Assert.Contains(source, e.Message);
        if (problem is not null) Assert.Contains(problem, e.Message);
        return e.Message;
    }
}
