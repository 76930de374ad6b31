using System.Diagnostics;
using NativeNet.Backends;
using NativeNet.Data;
using NativeNet.Models;

namespace NativeNet.Cli;

/// <summary>
/// <c>nativenet train --model twolayer</c>: CS231n's TwoLayerNet (affine − ReLU − affine − softmax, hidden 256)
/// trained by plain mini-batch SGD on Fashion-MNIST, printing the loss as it goes and the test accuracy at the end.
/// </summary>
internal static class TrainTwoLayerCommand
{
    public static int Run(CliArgs args, CliConsole console)
    {
        args.Choice("model", "twolayer", "twolayer");
        int epochs = args.Int("epochs", 1, 1, 1000);
        int batch = args.Int("batch", 32, 1, 60000);
        double lr = args.Double("lr", 0.1);
        int hidden = args.Int("hidden", 256, 1, 100000);
        int seed = args.Int("seed", 42);
        string backendName = args.Choice("backend", Backend.DefaultCpu.Name, "naive", "simd", "cuda");
        string? dataDir = args.PathOption("data", null);
        args.RejectUnknown("train");

        var backend = Backend.FromName(backendName);
        using var use = backend.DeviceKind == DeviceKind.Cpu ? Backend.Use(backend) : null;
        var device = backend.DeviceKind == DeviceKind.Cpu ? Device.Cpu : Device.Cuda(0);

        var (trainX, trainY) = FashionMnist.Load(train: true, dataDir);
        var (testX, testY) = FashionMnist.Load(train: false, dataDir);
        var (mean, std) = Standardize(trainX, testX);
        int n = trainX.Shape[0];
        console.Out.WriteLine($"TwoLayerNet 784-{hidden}-10 on Fashion-MNIST ({n} train, {testX.Shape[0]} test; inputs standardised with the training mean {mean:F4} and std {std:F4}); SGD lr {lr}, batch {batch}, {epochs} epoch(s), backend {backend.Name}");

        var generator = new Generator(seed);
        using var net = new TwoLayerNet(784, hidden, 10, generator, device: device);
        var order = Enumerable.Range(0, n).ToArray();
        var labels = trainY.ToArray<int>();
        var pixels = trainX.ToArray<float>();
        var clock = Stopwatch.StartNew();
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            generator.Shuffle<int>(order);
            double running = 0;
            int steps = 0;
            for (int start = 0; start < n; start += batch)
            {
                int count = Math.Min(batch, n - start);
                using var scope = new TensorScope();
                var (x, y) = Gather(pixels, labels, order.AsSpan(start, count), device);
                var loss = net.Loss(x, y);
                loss.Backward();
                net.SgdStep(lr);
                running += loss.Item();
                steps++;
                if (steps % 100 == 0 || start + count == n)
                {
                    console.Out.WriteLine($"epoch {epoch} step {steps,4}  loss {running / steps:F4}  ({clock.Elapsed.TotalSeconds:F1} s)");
                }
            }
        }
        double accuracy = Evaluate(net, testX, testY, device);
        console.Out.WriteLine($"test accuracy {accuracy:P2} after {epochs} epoch(s), {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var t in new[] { trainX, trainY, testX, testY }) t.Dispose();
        return 0;
    }

    /// <summary>Standardises both splits in place with the training set's mean and std.</summary>
    private static (double Mean, double Std) Standardize(Tensor train, Tensor test)
    {
        var data = train.HostData<float>();
        double sum = 0, sumSq = 0;
        foreach (float v in data) { sum += v; sumSq += (double)v * v; }
        double mean = sum / data.Length, std = Math.Sqrt(sumSq / data.Length - mean * mean);
        foreach (var t in new[] { train, test })
        {
            var values = t.HostData<float>();
            for (int i = 0; i < values.Length; i++) values[i] = (float)((values[i] - mean) / std);
        }
        return (mean, std);
    }

    private static (Tensor X, Tensor Y) Gather(float[] pixels, int[] labels, ReadOnlySpan<int> rows, Device device)
    {
        const int features = 784;
        var x = new float[rows.Length * features];
        var y = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            Array.Copy(pixels, rows[i] * features, x, i * features, features);
            y[i] = labels[rows[i]];
        }
        var xt = Tensor.FromArray(x, rows.Length, features);
        return (device.Kind == DeviceKind.Cpu ? xt : xt.To(device), Tensor.FromArray(y));
    }

    private static double Evaluate(TwoLayerNet net, Tensor x, Tensor y, Device device)
    {
        var labels = y.ToArray<int>();
        int correct = 0, n = x.Shape[0];
        for (int start = 0; start < n; start += 1000)
        {
            using var scope = new TensorScope();
            int count = Math.Min(1000, n - start);
            var batch = x.Narrow(0, start, count).To(device);
            var predicted = net.Predict(batch);
            for (int i = 0; i < count; i++) if (predicted[i] == labels[start + i]) correct++;
        }
        return (double)correct / n;
    }
}
