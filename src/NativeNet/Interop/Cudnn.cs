using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeNet.Backends.Cuda;

namespace NativeNet.Interop;

/// <summary>cudnnStatus_t (cuDNN 9 numbering); only success is branched on, names come from cudnnGetErrorString.</summary>
internal enum CudnnStatus
{
    Success = 0,
    NotInitialized = 1001,
    BadParam = 2000,
    NotSupported = 3000,
    InternalError = 4000,
    ExecutionFailed = 5000,
}

/// <summary>cudnnDataType_t.</summary>
internal enum CudnnDataType { Float = 0, Double = 1, Half = 2, Int8 = 3, Int32 = 4, BFloat16 = 9, Int64 = 10 }

/// <summary>cudnnTensorFormat_t.</summary>
internal enum CudnnTensorFormat { Nchw = 0, Nhwc = 1 }

/// <summary>cudnnConvolutionMode_t. Deep-learning "convolution" is cross-correlation.</summary>
internal enum CudnnConvolutionMode { Convolution = 0, CrossCorrelation = 1 }

/// <summary>cudnnMathType_t.</summary>
internal enum CudnnMathType { Default = 0, TensorOp = 1, TensorOpAllowConversion = 2, Fma = 3 }

/// <summary>cudnnPoolingMode_t.</summary>
internal enum CudnnPoolingMode { Max = 0, AverageCountIncludePadding = 1, AverageCountExcludePadding = 2, MaxDeterministic = 3 }

/// <summary>cudnnNanPropagation_t.</summary>
internal enum CudnnNanPropagation { NotPropagate = 0, Propagate = 1 }

/// <summary>cudnnBatchNormMode_t.</summary>
internal enum CudnnBatchNormMode { PerActivation = 0, Spatial = 1, SpatialPersistent = 2 }

/// <summary>cudnnRNNAlgo_t.</summary>
internal enum CudnnRnnAlgo { Standard = 0, PersistStatic = 1, PersistDynamic = 2, PersistStaticSmallH = 3 }

/// <summary>cudnnRNNMode_t.</summary>
internal enum CudnnRnnMode { RnnRelu = 0, RnnTanh = 1, Lstm = 2, Gru = 3 }

/// <summary>cudnnRNNBiasMode_t.</summary>
internal enum CudnnRnnBiasMode { NoBias = 0, SingleInputBias = 1, DoubleBias = 2, SingleRecurrentBias = 3 }

/// <summary>cudnnDirectionMode_t.</summary>
internal enum CudnnDirectionMode { Unidirectional = 0, Bidirectional = 1 }

/// <summary>cudnnRNNInputMode_t.</summary>
internal enum CudnnRnnInputMode { LinearInput = 0, SkipInput = 1 }

/// <summary>cudnnForwardMode_t.</summary>
internal enum CudnnForwardMode { Inference = 0, Training = 1 }

/// <summary>cudnnRNNDataLayout_t.</summary>
internal enum CudnnRnnDataLayout { SeqMajorUnpacked = 0, SeqMajorPacked = 1, BatchMajorUnpacked = 2 }

/// <summary>cudnnWgradMode_t: whether RNN weight gradients are added to or overwrite the output.</summary>
internal enum CudnnWgradMode { Add = 0, Set = 1 }

/// <summary>cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t; the three structs share this layout.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CudnnConvolutionAlgoPerf
{
    public int Algo;
    public CudnnStatus Status;
    public float Time;
    public nuint Memory;
    public int Determinism;
    public CudnnMathType MathType;
    public int Reserved0;
    public int Reserved1;
    public int Reserved2;
}

/// <summary>
/// Bindings to cuDNN 9 (libcudnn.so.9, cudnn64_9.dll): handle, tensor/filter/convolution/pooling/
/// dropout descriptors, convolution forward and backward, pooling, batch norm and the v8 RNN API
/// used for LSTM. Scaling factors alpha/beta point to a host float for float/half data and a host
/// double for double data; data arguments are device addresses.
/// </summary>
// SAFETY: the pointer-typed signatures mirror cudnn_*.h of cuDNN 9; alpha/beta point to live host
// scalars of the type cuDNN expects, arrays are pinned for the call, and data are device addresses.
internal static partial class Cudnn
{
    private const string Lib = NativeLibraryResolver.Cudnn;

    /// <summary>cudnnRNNDescriptor auxFlags: padded sequences in the data descriptors.</summary>
    public const uint RnnPaddedIoEnabled = 1;

    static Cudnn() => NativeLibraryResolver.EnsureRegistered();

    [LibraryImport(Lib)] internal static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] internal static partial nint cudnnGetErrorString(CudnnStatus status);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreate(out nint handle);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroy(nint handle);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnSetStream(nint handle, nint stream);

    // ---- tensor descriptors
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreateTensorDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyTensorDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnSetTensor4dDescriptor(nint desc, CudnnTensorFormat format, CudnnDataType dataType, int n, int c, int h, int w);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnSetTensorNdDescriptor(nint desc, CudnnDataType dataType, int nbDims, int* dims, int* strides);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnGetTensorNdDescriptor(nint desc, int nbDimsRequested, out CudnnDataType dataType, out int nbDims, int* dims, int* strides);

    // ---- filter descriptors
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreateFilterDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyFilterDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnSetFilter4dDescriptor(nint desc, CudnnDataType dataType, CudnnTensorFormat format, int k, int c, int h, int w);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnSetFilterNdDescriptor(nint desc, CudnnDataType dataType, CudnnTensorFormat format, int nbDims, int* dims);

    // ---- convolution
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreateConvolutionDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyConvolutionDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnSetConvolution2dDescriptor(
        nint desc, int padH, int padW, int strideH, int strideW, int dilationH, int dilationW, CudnnConvolutionMode mode, CudnnDataType computeType);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnSetConvolutionMathType(nint desc, CudnnMathType mathType);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnSetConvolutionGroupCount(nint desc, int groupCount);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnGetConvolution2dForwardOutputDim(nint convDesc, nint xDesc, nint wDesc, out int n, out int c, out int h, out int w);

    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnGetConvolutionForwardAlgorithm_v7(
        nint handle, nint xDesc, nint wDesc, nint convDesc, nint yDesc, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnFindConvolutionForwardAlgorithmEx(
        nint handle, nint xDesc, nint x, nint wDesc, nint w, nint convDesc, nint yDesc, nint y,
        int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perf, nint workSpace, nuint workSpaceBytes);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnGetConvolutionForwardWorkspaceSize(
        nint handle, nint xDesc, nint wDesc, nint convDesc, nint yDesc, int algo, out nuint bytes);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnConvolutionForward(
        nint handle, void* alpha, nint xDesc, nint x, nint wDesc, nint w, nint convDesc, int algo,
        nint workSpace, nuint workSpaceBytes, void* beta, nint yDesc, nint y);

    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnGetConvolutionBackwardDataAlgorithm_v7(
        nint handle, nint wDesc, nint dyDesc, nint convDesc, nint dxDesc, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnFindConvolutionBackwardDataAlgorithmEx(
        nint handle, nint wDesc, nint w, nint dyDesc, nint dy, nint convDesc, nint dxDesc, nint dx,
        int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perf, nint workSpace, nuint workSpaceBytes);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnGetConvolutionBackwardDataWorkspaceSize(
        nint handle, nint wDesc, nint dyDesc, nint convDesc, nint dxDesc, int algo, out nuint bytes);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnConvolutionBackwardData(
        nint handle, void* alpha, nint wDesc, nint w, nint dyDesc, nint dy, nint convDesc, int algo,
        nint workSpace, nuint workSpaceBytes, void* beta, nint dxDesc, nint dx);

    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        nint handle, nint xDesc, nint dyDesc, nint convDesc, nint dwDesc, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnFindConvolutionBackwardFilterAlgorithmEx(
        nint handle, nint xDesc, nint x, nint dyDesc, nint dy, nint convDesc, nint dwDesc, nint dw,
        int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perf, nint workSpace, nuint workSpaceBytes);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnGetConvolutionBackwardFilterWorkspaceSize(
        nint handle, nint xDesc, nint dyDesc, nint convDesc, nint dwDesc, int algo, out nuint bytes);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnConvolutionBackwardFilter(
        nint handle, void* alpha, nint xDesc, nint x, nint dyDesc, nint dy, nint convDesc, int algo,
        nint workSpace, nuint workSpaceBytes, void* beta, nint dwDesc, nint dw);

    // ---- pooling
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreatePoolingDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyPoolingDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnSetPooling2dDescriptor(
        nint desc, CudnnPoolingMode mode, CudnnNanPropagation nan, int windowH, int windowW, int padH, int padW, int strideH, int strideW);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnPoolingForward(
        nint handle, nint poolDesc, void* alpha, nint xDesc, nint x, void* beta, nint yDesc, nint y);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnPoolingBackward(
        nint handle, nint poolDesc, void* alpha, nint yDesc, nint y, nint dyDesc, nint dy, nint xDesc, nint x, void* beta, nint dxDesc, nint dx);

    // ---- batch normalization
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDeriveBNTensorDescriptor(nint derivedDesc, nint xDesc, CudnnBatchNormMode mode);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnBatchNormalizationForwardTraining(
        nint handle, CudnnBatchNormMode mode, void* alpha, void* beta, nint xDesc, nint x, nint yDesc, nint y,
        nint scaleBiasMeanVarDesc, nint scale, nint bias, double exponentialAverageFactor,
        nint runningMean, nint runningVariance, double epsilon, nint saveMean, nint saveInvVariance);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnBatchNormalizationForwardInference(
        nint handle, CudnnBatchNormMode mode, void* alpha, void* beta, nint xDesc, nint x, nint yDesc, nint y,
        nint scaleBiasMeanVarDesc, nint scale, nint bias, nint estimatedMean, nint estimatedVariance, double epsilon);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnBatchNormalizationBackward(
        nint handle, CudnnBatchNormMode mode, void* alphaDataDiff, void* betaDataDiff, void* alphaParamDiff, void* betaParamDiff,
        nint xDesc, nint x, nint dyDesc, nint dy, nint dxDesc, nint dx,
        nint scaleBiasDesc, nint scale, nint dScale, nint dBias, double epsilon, nint savedMean, nint savedInvVariance);

    // ---- dropout (needed by the RNN descriptor)
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreateDropoutDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyDropoutDescriptor(nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDropoutGetStatesSize(nint handle, out nuint bytes);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnSetDropoutDescriptor(nint desc, nint handle, float dropout, nint states, nuint stateBytes, ulong seed);

    // ---- RNN (v8 API)
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreateRNNDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyRNNDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnSetRNNDescriptor_v8(
        nint rnnDesc, CudnnRnnAlgo algo, CudnnRnnMode cellMode, CudnnRnnBiasMode biasMode, CudnnDirectionMode dirMode,
        CudnnRnnInputMode inputMode, CudnnDataType dataType, CudnnDataType mathPrec, CudnnMathType mathType,
        int inputSize, int hiddenSize, int projSize, int numLayers, nint dropoutDesc, uint auxFlags);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnCreateRNNDataDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnDestroyRNNDataDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static unsafe partial CudnnStatus cudnnSetRNNDataDescriptor(
        nint desc, CudnnDataType dataType, CudnnRnnDataLayout layout, int maxSeqLength, int batchSize, int vectorSize,
        int* seqLengthArray, void* paddingFill);
    [LibraryImport(Lib)] internal static partial CudnnStatus cudnnGetRNNWeightSpaceSize(nint handle, nint rnnDesc, out nuint bytes);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnGetRNNTempSpaceSizes(
        nint handle, nint rnnDesc, CudnnForwardMode mode, nint xDesc, out nuint workSpaceBytes, out nuint reserveSpaceBytes);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnGetRNNWeightParams(
        nint handle, nint rnnDesc, int pseudoLayer, nuint weightSpaceBytes, nint weightSpace, int linLayerId,
        nint mDesc, out nint mAddr, nint bDesc, out nint bAddr);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnRNNForward(
        nint handle, nint rnnDesc, CudnnForwardMode mode, nint devSeqLengths,
        nint xDesc, nint x, nint yDesc, nint y, nint hDesc, nint hx, nint hy, nint cDesc, nint cx, nint cy,
        nuint weightSpaceBytes, nint weightSpace, nuint workSpaceBytes, nint workSpace, nuint reserveSpaceBytes, nint reserveSpace);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnRNNBackwardData_v8(
        nint handle, nint rnnDesc, nint devSeqLengths, nint yDesc, nint y, nint dy, nint xDesc, nint dx,
        nint hDesc, nint hx, nint dhy, nint dhx, nint cDesc, nint cx, nint dcy, nint dcx,
        nuint weightSpaceBytes, nint weightSpace, nuint workSpaceBytes, nint workSpace, nuint reserveSpaceBytes, nint reserveSpace);
    [LibraryImport(Lib)]
    internal static partial CudnnStatus cudnnRNNBackwardWeights_v8(
        nint handle, nint rnnDesc, CudnnWgradMode addGrad, nint devSeqLengths, nint xDesc, nint x,
        nint hDesc, nint hx, nint yDesc, nint y, nuint weightSpaceBytes, nint dweightSpace,
        nuint workSpaceBytes, nint workSpace, nuint reserveSpaceBytes, nint reserveSpace);

    /// <summary>Throws <see cref="CudaException"/> naming the call and cudnnGetErrorString's text unless success.</summary>
    /// <param name="status">The status a cuDNN call returned.</param>
    /// <param name="call">Filled in by the compiler with the call expression.</param>
    public static void Check(CudnnStatus status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CudnnStatus.Success)
            throw new CudaException(NativeLibraryResolver.Cudnn, CudaDriver.FunctionName(call), (int)status, StatusName(status));
    }

    /// <summary>cuDNN's name for a status (cudnnGetErrorString), e.g. <c>CUDNN_STATUS_BAD_PARAM</c>.</summary>
    /// <param name="status">The status.</param>
    /// <returns>The name.</returns>
    public static string StatusName(CudnnStatus status)
    {
        try
        {
            nint s = cudnnGetErrorString(status);
            if (s != 0)
                return Marshal.PtrToStringUTF8(s) ?? $"CUDNN_STATUS_{(int)status}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return $"CUDNN_STATUS_{(int)status}";
    }
}
