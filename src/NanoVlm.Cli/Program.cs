using System.CommandLine;
using System.Runtime.InteropServices;
using NanoVlm.Cli;
using NanoVlm.Cli.Commands;
using NanoVlm.Runtime;

NativeHeap.LimitArenas();
try
{
    Libtorch.Initialize();
}
catch (NanoVlmException e)
{
    Console.Error.WriteLine($"error: {ParameterFlags.Message(e)}");
    return 1;
}
Devices.ConfigureThreads();
// Named nanovlm whatever the executable is called (NanoVlm.Cli.dll under ./run, the nanovlm tool): usage lines say what to type.
var root = new Command("nanovlm", "nanovlm: train, run and evaluate small vision-language models (nanoVLM in .NET)")
{
    Options = { new System.CommandLine.Help.HelpOption(), new VersionOption() },
};
foreach (var command in new[]
         {
             InfoCommand.Create(),
             DemoCommand.Create(),
             TrainCommand.Create(),
             GenerateCommand.Create(),
             ServeCommand.Create(),
             EvalCommand.Create(),
             TokenizeCommand.Create(),
             DataCommand.Create(),
             DownloadCommand.Create(),
             PushCommand.Create(),
             MergeCommand.Create(),
             ExportCommand.Create(),
             BenchCommand.Create(),
         })
    root.Subcommands.Add(command);

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line, like every other refusal (System.CommandLine would print the whole help after it).
    Console.Error.WriteLine($"error: {string.Join(" ", parsed.Errors.Select(e => e.Message)).ReplaceLineEndings(" ")} (see --help)");
    return 1;
}
try
{
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is NanoVlmException or IOException or UnauthorizedAccessException or OperationCanceledException)
{
    Console.Error.WriteLine(e is OperationCanceledException ? "interrupted" : $"error: {ParameterFlags.Message(e)}");
    if (e is not OperationCanceledException) Mpi.AbortJobIfRunning(1);
    return e is OperationCanceledException ? 130 : 1;
}
catch (ExternalException e) when (e.Message.Contains("can't allocate memory", StringComparison.Ordinal))
{
    Console.Error.WriteLine($"error: out of memory ({e.Message.Split('\n')[0]})");
    Mpi.AbortJobIfRunning(1);
    return 1;
}
