// MSBuild task (compiled by RoslynCodeTaskFactory from NanoVlm.targets, for netstandard2.0): copies TorchSharp's native glue, libLibTorchSharp.so,
// and makes the copy load with GCC 12's libstdc++ (Debian 12, Ubuntu 22.04).
//
// The glue is built with GCC 13, whose <iostream> makes every object that includes it name std::ios_base_library_init()
// (GLIBCXX_3.4.32) so that the linker records a need for GCC 13's libstdc++. Nothing calls or relocates against that symbol, but
// the loader refuses the whole library when a needed version is missing. The copy marks that version need weak (VER_FLG_WEAK:
// the loader then only warns) and gives the symbol no version. Any other use of GLIBCXX_3.4.32 is refused, as are unknown files.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class NanoVlmPatchGlue : Task
{
    const string Version = "GLIBCXX_3.4.32";
    const string OnlySymbol = "_ZSt21ios_base_library_initv";

    [Required] public ITaskItem[] Sources { get; set; } = [];
    [Required] public string Folder { get; set; } = "";
    [Output] public ITaskItem[] Patched { get; set; } = [];

    public override bool Execute()
    {
        var patched = new System.Collections.Generic.List<ITaskItem>();
        var destinations = new System.Collections.Generic.HashSet<string>();
        for (var i = 0; i < Sources.Length; i++)
        {
            // The same file reached through two references (a package and a project's output) is published once.
            var destination = Sources[i].GetMetadata("RelativePath") + "|" + Sources[i].GetMetadata("DestinationSubPath");
            if (destination != "|" && !destinations.Add(destination)) continue;
            var source = Sources[i].ItemSpec;
            // One copy per source file: items naming the same file stay one file for the SDK's conflict checks.
            var target = Path.Combine(Folder, Fnv1a(Path.GetFullPath(source)).ToString("x8"), Path.GetFileName(source));
            try
            {
                var bytes = File.ReadAllBytes(source);
                var what = Patch(bytes);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                if (!File.Exists(target) || !System.Linq.Enumerable.SequenceEqual(File.ReadAllBytes(target), bytes))
                {
                    File.WriteAllBytes(target + ".tmp", bytes);
                    File.Delete(target);
                    File.Move(target + ".tmp", target);
                }
                Log.LogMessage(MessageImportance.Low, $"{source}: {what} -> {target}");
            }
            catch (InvalidDataException e)
            {
                Log.LogError($"{source}: {e.Message}");
                return false;
            }
            var item = new TaskItem(target);
            Sources[i].CopyMetadataTo(item);
            patched.Add(item);
        }
        Patched = patched.ToArray();
        return true;
    }

    /// <summary>Edits the ELF64 image in place; says what it did (nothing for a glue that does not need GLIBCXX_3.4.32).</summary>
    public static string Patch(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        var shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3a), shnum = U16(elf, 0x3c);
        (long Offset, long Size, int Link, long EntSize) Section(int k)
        {
            var h = checked((int)(shoff + (long)k * shentsize));
            return ((long)U64(elf, h + 0x18), (long)U64(elf, h + 0x20), (int)U32(elf, h + 0x28), (long)U64(elf, h + 0x38));
        }
        int Find(uint type)
        {
            for (var k = 0; k < shnum; k++)
                if (U32(elf, checked((int)(shoff + (long)k * shentsize)) + 4) == type) return k;
            return -1;
        }
        int verneed = Find(0x6ffffffe), versym = Find(0x6fffffff), dynsym = Find(11);
        if (verneed < 0 || versym < 0 || dynsym < 0) throw new InvalidDataException("no dynamic symbol versions (.gnu.version_r, .gnu.version, .dynsym)");
        var need = Section(verneed);
        var strings = Section(need.Link).Offset;

        var index = -1;
        var entry = (int)need.Offset;
        while (true)
        {
            int aux = entry + (int)U32(elf, entry + 8), count = U16(elf, entry + 2);
            for (var a = 0; a < count; a++)
            {
                if (Name(elf, strings + U32(elf, aux + 8)) == Version)
                {
                    elf[aux + 4] |= 2;   // vna_flags |= VER_FLG_WEAK
                    index = U16(elf, aux + 6);
                }
                aux += (int)U32(elf, aux + 12);
            }
            var next = (int)U32(elf, entry + 12);
            if (next == 0) break;
            entry += next;
        }
        if (index < 0) return "needs no " + Version;

        var symbols = Section(dynsym);
        var symbolStrings = Section(symbols.Link).Offset;
        var versions = Section(versym).Offset;
        var cleared = 0;
        for (var s = 0; s < symbols.Size / symbols.EntSize; s++)
        {
            var v = (int)versions + 2 * s;
            if ((U16(elf, v) & 0x7fff) != index) continue;
            var symbol = (int)(symbols.Offset + s * symbols.EntSize);
            var name = Name(elf, symbolStrings + U32(elf, symbol));
            if (name != OnlySymbol || U16(elf, symbol + 6) != 0)
                throw new InvalidDataException($"{name} needs {Version}: only an undefined {OnlySymbol} can do without it");
            elf[v] = 1;   // VER_NDX_GLOBAL
            elf[v + 1] = 0;
            cleared++;
        }
        return $"{Version} made weak, {cleared} symbol version(s) cleared";
    }

    static string Name(byte[] elf, long offset)
    {
        var end = Array.IndexOf(elf, (byte)0, checked((int)offset));
        return Encoding.ASCII.GetString(elf, (int)offset, end - (int)offset);
    }

    static uint Fnv1a(string text)
    {
        var hash = 2166136261;
        foreach (var c in text) hash = (hash ^ c) * 16777619;
        return hash;
    }

    static int U16(byte[] b, int o) => b[o] | b[o + 1] << 8;
    static uint U32(byte[] b, int o) => BitConverter.ToUInt32(b, o);
    static ulong U64(byte[] b, int o) => BitConverter.ToUInt64(b, o);
}
