namespace NativeNet.Autodiff;

/// <summary>A recorded application of a gate: the gate (with its cache) and the tensors it was applied to.</summary>
internal sealed class TapeNode(IGate gate, Tensor[] inputs)
{
    public IGate Gate { get; } = gate;
    public Tensor[] Inputs { get; } = inputs;
    public bool Freed { get; set; }
}

/// <summary>
/// Reverse-mode automatic differentiation. Ops record a <see cref="TapeNode"/> on each output that needs a gradient;
/// <see cref="Backward"/> orders the recorded gates that lead to the output, walks them in reverse, calls each gate's
/// backward, adds gradients that meet at one tensor, and fills <see cref="Tensor.Grad"/> of every leaf that requires it.
/// </summary>
public static class Tape
{
    /// <summary>True when an op on these inputs should be recorded.</summary>
    public static bool ShouldRecord(params ReadOnlySpan<Tensor?> inputs)
    {
        if (!GradMode.IsEnabled) return false;
        foreach (var t in inputs) if (t is not null && (t.RequiresGrad || t.Node is not null)) return true;
        return false;
    }

    /// <summary>Marks <paramref name="output"/> as produced by <paramref name="gate"/> from <paramref name="inputs"/> when recording applies; otherwise releases the gate's cache. Returns the output.</summary>
    public static Tensor Record(IGate gate, Tensor output, params Tensor[] inputs)
    {
        if (ShouldRecord(inputs))
        {
            if (gate is Gate g) g.SetNeedsGrad(inputs.Select(t => t.RequiresGrad || t.Node is not null).ToArray());
            output.Node = new TapeNode(gate, inputs);
            output.RequiresGrad = true;
        }
        else
        {
            gate.Release();
        }
        if (GateProfiler.IsEnabled) GateProfiler.Gate(gate, output, ProfilePhase.Forward);
        return output;
    }

    /// <summary>
    /// Backpropagates from <paramref name="root"/>. A non-scalar root needs <paramref name="gradient"/> (same shape).
    /// Leaf gradients accumulate into <see cref="Tensor.Grad"/> (added to what is there). Unless
    /// <paramref name="retainGraph"/>, every gate's cache is freed afterwards and a second Backward through it throws.
    /// </summary>
    public static void Backward(Tensor root, Tensor? gradient = null, bool retainGraph = false)
    {
        root.ThrowIfDisposed();
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward: tensor {root.Describe()} does not require grad and has no recorded history");
        if (gradient is null && root.Numel != 1)
            throw new InvalidOperationException($"Backward: tensor {root.Describe()} is not a scalar; pass an upstream gradient of shape {ShapeUtil.Format(root.Shape)}");
        if (gradient is not null)
        {
            gradient.ThrowIfDisposed("Backward (upstream gradient)");
            if (!ShapeUtil.SameShape(gradient.Shape, root.Shape))
                throw new ShapeMismatchException($"Backward: upstream gradient {gradient.Describe()} does not match tensor {root.Describe()}");
            if (gradient.DType != root.DType)
                throw new DTypeMismatchException($"Backward: upstream gradient {gradient.Describe()} has dtype {gradient.DType} but tensor {root.Describe()} has {root.DType}; convert it with To({root.DType})");
            if (gradient.Device != root.Device)
                throw new ArgumentException($"Backward: upstream gradient {gradient.Describe()} is on {gradient.Device} but tensor {root.Describe()} is on {root.Device}; move it with To(device)");
        }

        using var noGrad = GradMode.Disable();
        if (root.Node is null)
        {
            Accumulate(root, gradient is null ? Tensor.OnesLike(root) : Raw.Contiguous(gradient));
            return;
        }
        var order = TopologicalOrder(root);
        GateProfiler.Mark("Tape.Backward (order)");
        var pending = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        pending[root] = gradient?.Detach() ?? Tensor.OnesLike(root);
        try
        {
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var tensor = order[i];
                if (!pending.Remove(tensor, out var dOut)) continue;
                var node = tensor.Node!;
                if (node.Freed)
                    throw new InvalidOperationException($"Backward: the graph through {node.Gate.Name} was already freed by an earlier Backward; pass retainGraph: true to differentiate twice");
                if (node.Gate is Gate gate) gate.SetCacheEndsWithThisBackward(!retainGraph);
                var grads = node.Gate.Backward(dOut);
                dOut.Dispose();
                if (grads.Length != node.Inputs.Length)
                    throw new InvalidOperationException($"{node.Gate.Name}.Backward returned {grads.Length} gradients for {node.Inputs.Length} inputs");
                for (int k = 0; k < grads.Length; k++)
                {
                    var input = node.Inputs[k];
                    var g = grads[k];
                    if (g is null) continue;
                    if (!input.RequiresGrad) { g.Dispose(); continue; }
                    if (!ShapeUtil.SameShape(g.Shape, input.Shape) || g.DType != input.DType || g.Device != input.Device)
                        throw new InvalidOperationException($"{node.Gate.Name}.Backward: gradient {g.Describe()} does not match input {k} {input.Describe()}");
                    if (input.Node is null) Accumulate(input, g);
                    else if (pending.Remove(input, out var existing)) { pending[input] = Raw.Add(existing, g); existing.Dispose(); g.Dispose(); }
                    else pending[input] = g;
                }
                if (!retainGraph)
                {
                    node.Gate.Release();
                    node.Freed = true;
                }
                if (GateProfiler.IsEnabled) GateProfiler.Gate(node.Gate, tensor, ProfilePhase.Backward);
            }
        }
        finally
        {
            foreach (var g in pending.Values) g.Dispose();
        }
    }

    private static void Accumulate(Tensor leaf, Tensor g)
    {
        TensorScope.Unregister(g);
        if (leaf.Grad is null)
        {
            leaf.Grad = g.IsContiguous ? g : Raw.Contiguous(g);
            if (!ReferenceEquals(leaf.Grad, g)) g.Dispose();
            TensorScope.Unregister(leaf.Grad);
        }
        else
        {
            Raw.AddInPlace(leaf.Grad, g);
            g.Dispose();
        }
    }

    /// <summary>Non-leaf tensors reachable from root, each after all tensors it depends on (iterative DFS: deep graphs such as long RNNs must not overflow the stack).</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        if (root.Node is null) return order;
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.Node!.Inputs;
            if (next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var input = inputs[next];
                if (input.Node is not null && visited.Add(input)) stack.Push((input, 0));
            }
            else
            {
                order.Add(t);
            }
        }
        return order;
    }
}
