using NanoVlm.Runtime;
namespace NanoVlm.Tests.Reliability;

/// <summary>Atomic writes (every file nanovlm writes: eval --json, configs, checkpoints, plots) never replace a FIFO, a device or a symlink.</summary>
public sealed class AtomicFileTests : IDisposable
{
    readonly TempDir _dir = new();

    [Fact]
    public async Task A_fifo_is_written_through_and_stays_a_fifo()
    {
        var fifo = SpecialFiles.Fifo(_dir["report.json"]);
        var reader = Task.Run(() => File.ReadAllText(fifo));
        AtomicFile.WriteAllText(fifo, "{\"accuracy\": 1}");
        Assert.Equal("{\"accuracy\": 1}", await reader.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(FileKind.Fifo, RegularFile.Stat(fifo).Kind);
        Assert.Single(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void A_symlink_to_a_device_is_written_through_and_kept()
    {
        var link = _dir["null.json"];
        File.CreateSymbolicLink(link, "/dev/null");
        AtomicFile.WriteAllText(link, "x");
        Assert.Equal("/dev/null", new FileInfo(link).LinkTarget);
        Assert.Equal(FileKind.CharacterDevice, RegularFile.Stat("/dev/null").Kind);
        Assert.Single(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void A_full_device_fails_the_write_and_stays()
    {
        var link = _dir["full.json"];
        File.CreateSymbolicLink(link, "/dev/full");
        Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllText(link, "x"));
        Assert.Equal("/dev/full", new FileInfo(link).LinkTarget);
    }

    [Fact]
    public void A_symlink_chain_is_followed_and_its_final_file_replaced()
    {
        var target = _dir["real/target.json"];
        Directory.CreateDirectory(_dir["real"]);
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(_dir["hop.json"], "real/target.json");
        File.CreateSymbolicLink(_dir["link.json"], "hop.json");
        AtomicFile.WriteAllText(_dir["link.json"], "new");
        Assert.Equal("new", File.ReadAllText(target));
        Assert.Equal("hop.json", new FileInfo(_dir["link.json"]).LinkTarget);
        Assert.Equal("real/target.json", new FileInfo(_dir["hop.json"]).LinkTarget);
        Assert.Null(new FileInfo(target).LinkTarget);
    }

    [Fact]
    public void A_dangling_symlink_gets_its_target_created()
    {
        File.CreateSymbolicLink(_dir["link.json"], "made.json");
        AtomicFile.WriteAllText(_dir["link.json"], "new");
        Assert.Equal("new", File.ReadAllText(_dir["made.json"]));
        Assert.Equal("made.json", new FileInfo(_dir["link.json"]).LinkTarget);
    }

    [Fact]
    public void A_folder_is_refused()
    {
        Directory.CreateDirectory(_dir["report.json"]);
        HostileInput.Refused(() => AtomicFile.WriteAllText(_dir["report.json"], "x"), _dir["report.json"], "is a folder");
    }

    public void Dispose() => _dir.Dispose();
}
