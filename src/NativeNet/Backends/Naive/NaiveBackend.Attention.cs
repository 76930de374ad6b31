using System.Numerics;

namespace NativeNet.Backends.Naive;

// The reference attention (on contiguous [N, T, D] operands; head views go through dense copies): per (batch, head) problem
// the whole [Tq, Tk] score matrix is materialised, softmaxed by its row maximum and multiplied out with scalar loops; the
// backward recomputes P the same way (it does not trust the saved log-sum-exp), so the fused Simd and Cuda paths are
// checked against an independent formula.
public partial class NaiveBackend
{
    /// <inheritdoc/>
    public override void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp)
    {
        var s = CheckAttention("AttentionForward", q, k, v, bias, output, logSumExp);
        if (!AttentionOperandsDense(q, k, v, output))
        {
            AttentionForwardThroughDense(q, k, v, bias, causal, scale, output, logSumExp);
            return;
        }
        ByFloat(q.DType, "AttentionForward", () => AttnForward<float>(s, q, k, v, bias, causal, scale, output, logSumExp),
            () => AttnForward<double>(s, q, k, v, bias, causal, scale, output, logSumExp));
    }

    /// <inheritdoc/>
    public override void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
    {
        var s = CheckAttentionBackward("AttentionBackward", q, k, v, bias, output, logSumExp, dOutput, dq, dk, dv);
        if (!AttentionOperandsDense(q, k, v, output, dOutput, dq, dk, dv))
        {
            AttentionBackwardThroughDense(q, k, v, bias, causal, scale, output, logSumExp, dOutput, dq, dk, dv);
            return;
        }
        ByFloat(q.DType, "AttentionBackward", () => AttnBackward<float>(s, q, k, v, bias, causal, scale, dOutput, dq, dk, dv),
            () => AttnBackward<double>(s, q, k, v, bias, causal, scale, dOutput, dq, dk, dv));
    }

    /// <summary>P [Tq, Tk] = softmax of the scores of problem <paramref name="n"/>; returns the row log-sum-exps.</summary>
    private static T[] AttnProbabilities<T>(AttentionShape s, int n, Tensor q, Tensor k, Tensor? bias, bool causal, T scale, T[] p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var qd = q.HostData<T>(); var kd = k.HostData<T>(); var bd = bias?.HostData<T>();
        var lse = new T[s.Queries];
        for (int i = 0; i < s.Queries; i++)
        {
            T max = T.NegativeInfinity;
            for (int j = 0; j < s.Keys; j++)
            {
                T dot = T.Zero;
                for (int c = 0; c < s.HeadDim; c++)
                    dot += qd[q.Offset + (n * s.Queries + i) * s.HeadDim + c] * kd[k.Offset + (n * s.Keys + j) * s.HeadDim + c];
                T score = dot * scale;
                if (bd is not null) score += bd[bias!.Offset + s.BiasOffset(n, i, j)];
                if (causal && j > i) score = T.NegativeInfinity;
                p[i * s.Keys + j] = score;
                max = T.Max(max, score);
            }
            T sum = T.Zero;
            for (int j = 0; j < s.Keys; j++)
            {
                T e = T.Exp(p[i * s.Keys + j] - max);
                p[i * s.Keys + j] = e;
                sum += e;
            }
            for (int j = 0; j < s.Keys; j++) p[i * s.Keys + j] /= sum;
            lse[i] = max + T.Log(sum);
        }
        return lse;
    }

    private static void AttnForward<T>(AttentionShape s, Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor output, Tensor logSumExp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var vd = v.HostData<T>(); var od = output.HostData<T>(); var ld = logSumExp.HostData<T>();
        var p = new T[s.Queries * s.Keys];
        for (int n = 0; n < s.Batch; n++)
        {
            var lse = AttnProbabilities(s, n, q, k, bias, causal, T.CreateTruncating(scale), p);
            for (int i = 0; i < s.Queries; i++)
            {
                ld[logSumExp.Offset + n * s.Queries + i] = lse[i];
                for (int c = 0; c < s.ValueDim; c++)
                {
                    T acc = T.Zero;
                    for (int j = 0; j < s.Keys; j++) acc += p[i * s.Keys + j] * vd[v.Offset + (n * s.Keys + j) * s.ValueDim + c];
                    od[output.Offset + (n * s.Queries + i) * s.ValueDim + c] = acc;
                }
            }
        }
    }

    private static void AttnBackward<T>(AttentionShape s, Tensor q, Tensor k, Tensor v, Tensor? bias, bool causal, double scale, Tensor dOutput, Tensor dq, Tensor dk, Tensor dv)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var qd = q.HostData<T>(); var kd = k.HostData<T>(); var vd = v.HostData<T>(); var dod = dOutput.HostData<T>();
        var dqd = dq.HostData<T>(); var dkd = dk.HostData<T>(); var dvd = dv.HostData<T>();
        T sc = T.CreateTruncating(scale);
        var p = new T[s.Queries * s.Keys];
        var ds = new T[s.Queries * s.Keys];
        int D = s.HeadDim, Dv = s.ValueDim, Tq = s.Queries, Tk = s.Keys;
        for (int n = 0; n < s.Batch; n++)
        {
            AttnProbabilities(s, n, q, k, bias, causal, sc, p);
            int qo = q.Offset + n * Tq * D, ko = k.Offset + n * Tk * D, vo = v.Offset + n * Tk * Dv, oo = dOutput.Offset + n * Tq * Dv;
            for (int i = 0; i < Tq; i++)
            {
                T rowDot = T.Zero;
                var dp = new T[Tk];
                for (int j = 0; j < Tk; j++)
                {
                    T acc = T.Zero;
                    for (int c = 0; c < Dv; c++) acc += dod[oo + i * Dv + c] * vd[vo + j * Dv + c];
                    dp[j] = acc;
                    rowDot += acc * p[i * Tk + j];
                }
                for (int j = 0; j < Tk; j++) ds[i * Tk + j] = p[i * Tk + j] * (dp[j] - rowDot) * sc;
            }
            for (int j = 0; j < Tk; j++)
            {
                for (int c = 0; c < Dv; c++)
                {
                    T acc = T.Zero;
                    for (int i = 0; i < Tq; i++) acc += p[i * Tk + j] * dod[oo + i * Dv + c];
                    dvd[dv.Offset + (n * Tk + j) * Dv + c] = acc;
                }
                for (int c = 0; c < D; c++)
                {
                    T acc = T.Zero;
                    for (int i = 0; i < Tq; i++) acc += ds[i * Tk + j] * qd[qo + i * D + c];
                    dkd[dk.Offset + (n * Tk + j) * D + c] = acc;
                }
            }
            for (int i = 0; i < Tq; i++)
                for (int c = 0; c < D; c++)
                {
                    T acc = T.Zero;
                    for (int j = 0; j < Tk; j++) acc += ds[i * Tk + j] * kd[ko + j * D + c];
                    dqd[dq.Offset + (n * Tq + i) * D + c] = acc;
                }
        }
    }
}
