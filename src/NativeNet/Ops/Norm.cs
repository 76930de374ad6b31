using NativeNet.Autodiff;
using NativeNet.Backends;

namespace NativeNet;

public static partial class Ops
{
    /// <summary>
    /// Batch normalisation of x [N, C, *] per channel (axis 1), as PyTorch's <c>F.batch_norm</c>.
    /// Training: normalises with the batch mean and biased variance and, when running statistics are given, updates them in
    /// place: running = (1 − momentum)·running + momentum·batch, the variance with the unbiased batch variance.
    /// Evaluation: normalises with the running statistics (which are then required). gamma and beta [C] are both given or both null.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5)
    {
        if ((gamma is null) != (beta is null)) throw new ArgumentException("BatchNorm: gamma and beta must be both given or both null");
        var gate = new BatchNormGate(training, momentum, eps);
        return gamma is null
            ? Apply(gate, () => gate.Forward(x, null, null, runningMean, runningVar), x)
            : Apply(gate, () => gate.Forward(x, gamma, beta, runningMean, runningVar), x, gamma, beta!);
    }
}

/// <summary>
/// Gate of batch normalisation with the fused backward of the training mode:
/// dx = (1/M)·γ·invstd·(M·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy (sums over every axis but the channel axis, M elements each).
/// In evaluation mode the statistics are constants and dx = dy·γ·invstd.
/// </summary>
public sealed class BatchNormGate(bool training, double momentum, double eps) : Gate
{
    private Tensor? _xHat, _invStd, _gamma;
    private int[] _axes = [];
    private int _count, _channels;

    /// <inheritdoc/>
    public override string Name => "BatchNorm";

    /// <summary>Normalises x; updates the running statistics in training mode.</summary>
    public Tensor Forward(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar)
    {
        Raw.CheckFloat(Name, x);
        if (x.Rank < 2) throw new ShapeMismatchException($"{Name}: input must be [N, C, ...] (rank 2 or more), got {ShapeUtil.Format(x.Shape)}");
        _channels = x.Shape[1];
        CheckPerChannel("gamma", x, gamma);
        CheckPerChannel("beta", x, beta);
        CheckPerChannel("running mean", x, runningMean);
        CheckPerChannel("running variance", x, runningVar);
        if (!(eps > 0)) throw new ArgumentException($"{Name}: eps must be positive, got {eps}");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentException($"{Name}: momentum must be in [0, 1], got {momentum}");
        _axes = Enumerable.Range(0, x.Rank).Where(a => a != 1).ToArray();
        _count = x.Numel / Math.Max(_channels, 1);
        var channelShape = Enumerable.Range(0, x.Rank).Select(a => a == 1 ? _channels : 1).ToArray();

        if (training && _count < 2)
            throw new ArgumentException($"{Name}: expected more than 1 value per channel when training, got input {x.Describe()}");
        if (x.Device.Kind != DeviceKind.Cpu && x.Numel > 0 && TryForwardOnDevice(x, gamma, beta, runningMean, runningVar, channelShape) is { } fused)
            return fused;

        Tensor mean, variance;
        if (training)
        {
            using var sum = Raw.Sum(x, _axes, keepDims: true);
            mean = Raw.MulScalar(sum, 1.0 / _count);
            using var centred = Raw.Sub(x, mean);
            using var squares = Raw.Unary(UnaryOp.Square, centred);
            using var squareSum = Raw.Sum(squares, _axes, keepDims: true);
            variance = Raw.MulScalar(squareSum, 1.0 / _count);
            if (runningMean is not null) UpdateRunning(runningMean, mean, 1.0);
            if (runningVar is not null) UpdateRunning(runningVar, variance, _count / (_count - 1.0));
        }
        else
        {
            if (runningMean is null || runningVar is null)
                throw new InvalidOperationException($"{Name}: evaluation mode needs the running mean and variance");
            mean = Raw.Reshape(runningMean, channelShape);
            variance = Raw.Reshape(runningVar, channelShape);
        }

        using (mean)
        using (variance)
        {
            using var shifted = Raw.Unary(UnaryOp.AddScalar, variance, eps);
            using var std = Raw.Unary(UnaryOp.Sqrt, shifted);
            using var invStd = Raw.Unary(UnaryOp.Reciprocal, std);
            using var centred = Raw.Sub(x, mean);
            var xHat = Raw.Mul(centred, invStd);
            _invStd = Save(invStd);
            _xHat = Save(xHat);
            if (gamma is null) return xHat;
            using var g = Raw.Reshape(gamma, channelShape);
            using var b = Raw.Reshape(beta!, channelShape);
            _gamma = Save(g);
            using var scaled = Raw.Mul(xHat, g);
            xHat.Dispose();
            return Raw.Add(scaled, b);
        }
    }

    /// <summary>
    /// The backend's fused forward (<see cref="Backend.TryBatchNormForward"/>, cuDNN on Cuda), or null where it has none.
    /// It saves what the composed path saves (x̂ and invstd), so the backward rule below serves both.
    /// </summary>
    private Tensor? TryForwardOnDevice(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar, int[] channelShape)
    {
        var y = Tensor.Empty(x.ShapeArray, x.DType, x.Device);
        using var mean = Tensor.Empty([_channels], x.DType, x.Device);
        using var invStd = Tensor.Empty([_channels], x.DType, x.Device);
        using var dense = Raw.Contiguous(x);
        bool done;
        try { done = x.Backend.TryBatchNormForward(dense, gamma, beta, runningMean, runningVar, training, momentum, eps, y, mean, invStd); }
        catch
        {
            y.Dispose();
            throw;
        }
        if (!done)
        {
            y.Dispose();
            return null;
        }
        if (!training)
        {
            // Evaluation normalised with the running statistics: x̂ and invstd come from them.
            using var shifted = Raw.Unary(UnaryOp.AddScalar, runningVar!, eps);
            using var std = Raw.Unary(UnaryOp.Sqrt, shifted);
            using var reciprocal = Raw.Unary(UnaryOp.Reciprocal, std);
            x.Backend.Copy(reciprocal, invStd);
            x.Backend.Copy(runningMean!, mean);
        }
        using var meanC = Raw.Reshape(mean, channelShape);
        using var invStdC = Raw.Reshape(invStd, channelShape);
        using var centred = Raw.Sub(x, meanC);
        using var xHat = Raw.Mul(centred, invStdC);
        _invStd = Save(invStdC);
        _xHat = Save(xHat);
        if (gamma is not null)
        {
            using var g = Raw.Reshape(gamma, channelShape);
            _gamma = Save(g);
        }
        return y;
    }

    private void CheckPerChannel(string what, Tensor x, Tensor? p)
    {
        if (p is null) return;
        Raw.CheckSameKind(Name, x, p);
        if (p.Rank != 1 || p.Shape[0] != _channels)
            throw new ShapeMismatchException($"{Name}: {what} {ShapeUtil.Format(p.Shape)} must be [{_channels}] for input {ShapeUtil.Format(x.Shape)}");
    }

    /// <summary>running = (1 − momentum)·running + momentum·factor·batch, written into running's storage.</summary>
    private void UpdateRunning(Tensor running, Tensor batch, double factor)
    {
        using var flat = Raw.Reshape(batch, [_channels]);
        using var kept = Raw.MulScalar(running, 1 - momentum);
        using var added = Raw.MulScalar(flat, momentum * factor);
        using var updated = Raw.Add(kept, added);
        running.Backend.Copy(updated, running);
    }

    /// <inheritdoc/>
    protected override Tensor?[] BackwardCore(Tensor dy)
    {
        bool affine = _gamma is not null;
        Tensor? dx = null, dGamma = null, dBeta = null;
        using var sumDy = Raw.Sum(dy, _axes, keepDims: true);
        using var dyXHat = Raw.Mul(dy, _xHat!);
        using var sumDyXHat = Raw.Sum(dyXHat, _axes, keepDims: true);
        if (NeedsGrad(0))
        {
            using var scale = affine ? Raw.Mul(_gamma!, _invStd!) : Raw.Detach(_invStd!);
            if (training)
            {
                using var scaledDy = Raw.MulScalar(dy, _count);
                using var lessSum = Raw.Sub(scaledDy, sumDy);
                using var projection = Raw.Mul(_xHat!, sumDyXHat);
                using var inner = Raw.Sub(lessSum, projection);
                using var perCount = Raw.MulScalar(scale, 1.0 / _count);
                dx = Raw.Mul(inner, perCount);
            }
            else
            {
                dx = Raw.Mul(dy, scale);
            }
        }
        if (affine && NeedsGrad(1)) dGamma = Raw.Reshape(sumDyXHat, [_channels]);
        if (affine && NeedsGrad(2)) dBeta = Raw.Reshape(sumDy, [_channels]);
        return affine ? [dx, dGamma, dBeta] : [dx];
    }
}
