namespace NativeNet.Cli;

/// <summary>Dispatches <c>nativenet &lt;command&gt;</c> and turns failures into one-line errors with non-zero exit codes.</summary>
internal static class CommandLine
{
    private const string Usage = """
        usage: nativenet <command> [options]
          info                       version, backends, SIMD width
          train [--model twolayer] [--epochs N] [--batch B] [--lr X] [--hidden H] [--seed S] [--backend naive|simd|cuda] [--data DIR]
        """;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            var options = new CliArgs(args.Skip(1));
            return args[0] switch
            {
                "info" => InfoCommand.Run(options),
                "train" => Train(options),
                _ => throw new UsageException($"unknown command '{args[0]}'; try 'nativenet help'"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"nativenet: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            Console.Error.WriteLine($"nativenet: {e.Message}");
            return 1;
        }
    }

    private static int Train(CliArgs options)
    {
        string model = options.Choice("model", "twolayer", "twolayer");
        return model switch
        {
            _ => TrainTwoLayerCommand.Run(options),
        };
    }
}
