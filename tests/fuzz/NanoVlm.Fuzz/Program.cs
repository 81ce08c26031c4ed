using NanoVlm;
using NanoVlm.Fuzz;
using SharpFuzz;
using NanoVlm.Runtime;

// One fuzz target per run (argument: safetensors, config or image). A NanoVlmException is the expected refusal of a bad input;
// any other exception escapes and AFL records the input as a crash.
var target = args.Length == 1 ? args[0] : "";
Action<byte[]> run = target switch
{
    "safetensors" => FuzzTargets.Safetensors,
    "config" => FuzzTargets.Config,
    "image" => FuzzTargets.Image,
    _ => throw new ArgumentException("usage: NanoVlm.Fuzz safetensors|config|image"),
};
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    try { run(buffer.ToArray()); }
    catch (NanoVlmException) { }
});
