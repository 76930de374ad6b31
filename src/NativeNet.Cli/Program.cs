using NativeNet.Cli;

return CommandLine.Run(args);
