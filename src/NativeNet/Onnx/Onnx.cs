using NativeNet.Nn;
using NativeNet.OnnxIO;

namespace NativeNet;

/// <summary>
/// ONNX in and out. <see cref="Export"/> writes a NativeNet module (the model zoo's models and the <see cref="NativeNet.Nn"/>
/// layers) as an opset-17 ONNX file that ONNX Runtime and onnx's checker accept; <see cref="Load(string)"/> builds a runnable,
/// trainable <see cref="OnnxModule"/> from an ONNX file (for example one written by <c>torch.onnx.export</c>).
/// </summary>
/// <example><code>
/// Onnx.Export(model, Tensor.Zeros([1, 1, 28, 28]), "model.onnx");   // the batch axis stays symbolic
/// using var loaded = Onnx.Load("resnet.onnx");
/// var logits = loaded.Forward(images);
/// using var optimizer = new Adam(loaded.Parameters(), 1e-3);        // fine-tune: the weights are parameters
/// </code></example>
public static class Onnx
{
    /// <summary>The opset <see cref="Export"/> writes.</summary>
    public const int ExportOpset = 17;

    /// <summary>The newest opset <see cref="Load(string)"/> reads.</summary>
    public const int MaxOpset = 17;

    /// <summary>
    /// Writes <paramref name="module"/> as ONNX to <paramref name="path"/>. <paramref name="sampleInput"/> (on the module's device;
    /// Int32 indices for <see cref="Models.CharLstm"/> and embeddings) is run through the module in evaluation mode to fix the
    /// shapes; the module's training mode is restored afterwards. The graph's input is "input" and its output "output", with the
    /// batch axis (and the time axis of sequence models) symbolic. Batch norm is exported with its running statistics, dropout
    /// as the identity, LSTM/GRU/RNN as ONNX's operators (zero initial state). Throws <see cref="NotSupportedException"/> naming
    /// the module path of any module without a translation.
    /// </summary>
    public static void Export(Module module, Tensor sampleInput, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = ToModelProto(module, sampleInput).ToBytes();
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>The ONNX model <see cref="Export"/> would write, in memory.</summary>
    public static OnnxModelProto ToModelProto(Module module, Tensor sampleInput) => OnnxExporter.Export(module, sampleInput);

    /// <summary>
    /// Reads the ONNX file at <paramref name="path"/> and builds a module running its graph on the CPU (move it with
    /// <see cref="Module.To(Device)"/>). Throws <see cref="NotSupportedException"/> naming every unsupported operator and its
    /// node (or an unsupported attribute and its node), <see cref="InvalidDataException"/> for a malformed file.
    /// </summary>
    public static OnnxModule Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Onnx.Load: '{path}' not found", path);
        return new OnnxModule(OnnxModelProto.Parse(File.ReadAllBytes(path)), path);
    }

    /// <summary>Builds a module from an ONNX model already in memory (<paramref name="source"/> names it in messages).</summary>
    public static OnnxModule Load(OnnxModelProto model, string source = "model")
    {
        ArgumentNullException.ThrowIfNull(model);
        return new OnnxModule(model, source);
    }
}
