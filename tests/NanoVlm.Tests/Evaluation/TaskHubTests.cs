using NanoVlm.Evaluation;
using NanoVlm.Hub;
using NanoVlm.Tests.Data;
using NanoVlm.Tests.Hub;
using Parquet.Schema;
using SkiaSharp;

namespace NanoVlm.Tests.Evaluation;

/// <summary>
/// A task's documents come from its Hub dataset (a loopback fake of the Hub) through the client and cache: only the parquet files of
/// its config and split are fetched, and offline they are read from the cache.
/// </summary>
public sealed class TaskHubTests : IDisposable
{
    readonly HubFixture hub = new();
    readonly TempDir dir = new();

    public void Dispose()
    {
        hub.Dispose();
        dir.Dispose();
    }

    static readonly ParquetSchema DocVqa = new(
        new DataField<string>("questionId"), new DataField<string>("question"), new ListField("answers", new DataField<string>("element")),
        new StructField("image", new DataField<byte[]>("bytes"), new DataField<string>("path")));

    byte[] Parquet(string name, int rows)
    {
        var png = ImageBytes.Encode(ImageBytes.Pattern(20, 20), 20, 20, SKEncodedImageFormat.Png);
        ParquetFixtures.Write(dir[name], DocVqa, [.. Enumerable.Range(0, rows).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["questionId"] = $"{i}", ["question"] = $"{name} question {i}", ["answers"] = new List<ReadOnlyMemory<char>?> { "a".AsMemory() },
            ["image"] = ParquetFixtures.Image(png),
        })], rowGroupSize: 2);
        return File.ReadAllBytes(dir[name]);
    }

    [Fact]
    public void OnlyTheConfigAndSplitAreFetchedAndOfflineReadsTheCache()
    {
        hub.Hub.AddRepo("lmms-lab-encoder/DocVQA", new Dictionary<string, byte[]>
        {
            ["README.md"] = "# DocVQA"u8.ToArray(),
            ["DocVQA/validation-00000-of-00002.parquet"] = Parquet("v0", 3),
            ["DocVQA/validation-00001-of-00002.parquet"] = Parquet("v1", 2),
            ["DocVQA/test-00000-of-00001.parquet"] = Parquet("t", 4),
            ["InfographicVQA/validation-00000-of-00001.parquet"] = Parquet("i", 1),
        }, RepoType.Dataset);
        using (var client = hub.Client())
        {
            var data = TaskDataset.Open(DocVqaTask.DocVqa(), null, client);
            Assert.Equal(5, data.Count);
            Assert.Equal("lmms-lab-encoder/DocVQA (DocVQA)", data.Origin);
            Assert.Equal(["v0 question 0", "v0 question 1", "v0 question 2", "v1 question 0", "v1 question 1"], data.Docs().Select(d => d.Text("question")));
            Assert.Equal([0, 1, 2, 3, 4], data.Docs().Select(d => d.Id));
            Assert.Equal(2, data.Docs(limit: 2).Count());
        }
        var fetched = hub.Requests.Select(r => r.Path).Where(p => p.Contains(".parquet", StringComparison.Ordinal)).Distinct().ToList();
        Assert.DoesNotContain(fetched, p => p.Contains("test-", StringComparison.Ordinal) || p.Contains("InfographicVQA", StringComparison.Ordinal));

        using var offline = hub.Client(offline: true);
        Assert.Equal(5, TaskDataset.Open(DocVqaTask.DocVqa(), null, offline).Count);
        var e = Assert.Throws<NanoVlm.Runtime.NanoVlmException>(() => TaskDataset.Open(DocVqaTask.InfographicVqa(), null, offline));
        Assert.Contains("no parquet files of config 'InfographicVQA'", e.Message);
        Assert.Contains("HF_HUB_OFFLINE is set, so only the Hugging Face cache was searched", e.Message);
    }
}
