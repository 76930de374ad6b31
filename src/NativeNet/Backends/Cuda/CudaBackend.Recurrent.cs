namespace NativeNet.Backends.Cuda;

// The fused recurrent cells of kernels/recurrent.cu, one thread per (batch row, hidden unit); the GEMMs of the layer go
// through cuBLAS (Gemm). Argument lists: (pointers..., [hasBias,] batch, hidden) as documented in the kernel source.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public override void LstmCellForward(Tensor gates, Tensor? bias, Tensor cPrev, Tensor c, Tensor h)
    {
        var (batch, hidden) = CheckCell("LstmCellForward", 4, [gates], [cPrev, c, h], bias);
        LaunchCell($"lstm_cell_fwd_{FloatSfx("LstmCellForward", c.DType)}", [Ptr(gates), bias is null ? 0 : Ptr(bias)], bias is null ? 0 : 1,
            batch, hidden, [Ptr(cPrev), Ptr(c), Ptr(h)]);
    }

    /// <inheritdoc/>
    public override void LstmCellBackward(Tensor act, Tensor cPrev, Tensor c, Tensor dh, Tensor dc, Tensor dGates)
    {
        var (batch, hidden) = CheckCell("LstmCellBackward", 4, [act, dGates], [cPrev, c, dh, dc]);
        LaunchCell($"lstm_cell_bwd_{FloatSfx("LstmCellBackward", c.DType)}", [Ptr(act), Ptr(cPrev), Ptr(c), Ptr(dh), Ptr(dc), Ptr(dGates)], null, batch, hidden);
    }

    /// <inheritdoc/>
    public override void GruCellForward(Tensor xGates, Tensor hGates, Tensor? biasIh, Tensor? biasHh, Tensor hPrev, Tensor h)
    {
        var (batch, hidden) = CheckCell("GruCellForward", 3, [xGates, hGates], [hPrev, h], biasIh, biasHh);
        bool hasBias = biasIh is not null;
        LaunchCell($"gru_cell_fwd_{FloatSfx("GruCellForward", h.DType)}", [Ptr(xGates), Ptr(hGates), hasBias ? Ptr(biasIh!) : 0, hasBias ? Ptr(biasHh!) : 0],
            hasBias ? 1 : 0, batch, hidden, [Ptr(hPrev), Ptr(h)]);
    }

    /// <inheritdoc/>
    public override void GruCellBackward(Tensor act, Tensor hGates, Tensor hPrev, Tensor dh, Tensor dhPrev, Tensor dXGates, Tensor dHGates)
    {
        var (batch, hidden) = CheckCell("GruCellBackward", 3, [act, hGates, dXGates, dHGates], [hPrev, dh, dhPrev]);
        LaunchCell($"gru_cell_bwd_{FloatSfx("GruCellBackward", dh.DType)}",
            [Ptr(act), Ptr(hGates), Ptr(hPrev), Ptr(dh), Ptr(dhPrev), Ptr(dXGates), Ptr(dHGates)], null, batch, hidden);
    }

    /// <summary>(pointers..., [flag, more pointers...,] batch, hidden) with one thread per element of [batch, hidden].</summary>
    private void LaunchCell(string entryPoint, ulong[] pointers, long? flag, int batch, int hidden, ulong[]? morePointers = null)
    {
        long n = (long)batch * hidden;
        if (n == 0) return;
        Span<byte> data = stackalloc byte[128];
        Span<int> offsets = stackalloc int[16];
        var args = new KernelArgs(data, offsets);
        foreach (ulong p in pointers) args.Add(p);
        if (flag is { } f) args.Add(f);
        foreach (ulong p in morePointers ?? []) args.Add(p);
        args.Add((long)batch);
        args.Add((long)hidden);
        LaunchElementwise(entryPoint, n, ref args);
    }
}
