using System.CommandLine;
using NanoVlm;
using NanoVlm.Cli.Commands;

NativeHeap.LimitArenas();
Devices.ConfigureThreads();
var root = new RootCommand("nanovlm: train, run and evaluate small vision-language models (nanoVLM in .NET)");
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
             BenchCommand.Create(),
         })
    root.Subcommands.Add(command);

try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is NanoVlmException or IOException or UnauthorizedAccessException or OperationCanceledException)
{
    Console.Error.WriteLine(e is OperationCanceledException ? "interrupted" : $"error: {e.Message}");
    return e is OperationCanceledException ? 130 : 1;
}
