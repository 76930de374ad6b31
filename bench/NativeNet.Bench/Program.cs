using BenchmarkDotNet.Running;
using NativeNet.Bench;

// The suite's job is used unless the command line names one (e.g. `--job dry` to smoke-test).
// One-line figures for side-by-side runs with the PyTorch/OpenBLAS anchors come from `nativenet bench ...` instead.
if (args.Length > 0 && args[0] == "grain") return GrainProbe.Run(args.Length > 1 ? int.Parse(args[1]) : 400);
if (args.Length > 2 && args[0] == "conv-passes") return ConvPassProbe.Run(args[1], int.Parse(args[2]), args.Length > 3 ? int.Parse(args[3]) : 60);
bool namesJob = args.Any(a => a is "--job" or "-j" || a.StartsWith("--job=", StringComparison.Ordinal));
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create(withJob: !namesJob));
return 0;
