// Emulated cuDNN convolution: output dims, algorithm queries with workspace sizes, forward,
// backward-data and backward-filter as plain loops with double accumulation. Honours padding,
// stride, dilation, groups and CUDNN_CONVOLUTION (filter flipped) vs CUDNN_CROSS_CORRELATION.
#include <cmath>
#include <cstring>

#include "dnn_common.h"

using namespace dnn;

namespace
{
enum class Pass { Forward, BackwardData, BackwardFilter };

struct Geometry
{
    cudnnDataType_t type;
    int N, C, H, W, K, Cg, Kg, R, S, OH, OW, groups;
    int padH, padW, strideH, strideW, dilH, dilW;
    bool flip;
    long long xs[4], ys[4];
    size_t xBytes, yBytes, wBytes;
};

const char* PassCall(Pass pass)
{
    switch (pass)
    {
    case Pass::Forward: return "cudnnConvolutionForward";
    case Pass::BackwardData: return "cudnnConvolutionBackwardData";
    default: return "cudnnConvolutionBackwardFilter";
    }
}

int OutputDim(int in, int pad, int filter, int dilation, int stride)
{
    return 1 + (in + 2 * pad - ((filter - 1) * dilation + 1)) / stride;
}

// The checks cuDNN makes on the descriptors of a convolution; x and y are the forward pass's input and output.
cudnnStatus_t Validate(const char* call, const cudnnTensorStruct* x, const cudnnFilterStruct* w, const cudnnConvolutionStruct* conv,
    const cudnnTensorStruct* y, Geometry& g)
{
    if (x == nullptr || !x->set || w == nullptr || !w->set || conv == nullptr || !conv->set || y == nullptr || !y->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a tensor, filter or convolution descriptor is NULL or was never set", call);
    if (x->nbDims != 4 || y->nbDims != 4 || w->nbDims != 4)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: only 2-d convolutions (4-d tensors) are emulated; x %s, w %s, y %s", call,
            Describe(*x).c_str(), Describe(*w).c_str(), Describe(*y).c_str());
    if (x->type != y->type || x->type != w->type)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: data types differ: x %s, w %s, y %s", call, Describe(*x).c_str(), Describe(*w).c_str(),
            Describe(*y).c_str());
    if (x->type != CUDNN_DATA_FLOAT && x->type != CUDNN_DATA_DOUBLE)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: data type %s is not emulated (FLOAT or DOUBLE)", call, TypeName(x->type));
    if (conv->computeType != x->type)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: compute type %s with %s data is not a supported configuration", call,
            TypeName(conv->computeType), TypeName(x->type));
    if (w->format != CUDNN_TENSOR_NCHW)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: filter format NHWC is not emulated", call);
    g.type = x->type;
    g.N = x->dims[0];
    g.C = x->dims[1];
    g.H = x->dims[2];
    g.W = x->dims[3];
    g.K = w->dims[0];
    g.Cg = w->dims[1];
    g.R = w->dims[2];
    g.S = w->dims[3];
    g.groups = conv->groups;
    if (g.Cg * g.groups != g.C)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: input channels %d != filter channels %d × groups %d (x %s, w %s)", call, g.C, g.Cg,
            g.groups, Describe(*x).c_str(), Describe(*w).c_str());
    if (g.K % g.groups != 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: output channels %d are not a multiple of groups %d", call, g.K, g.groups);
    g.Kg = g.K / g.groups;
    g.padH = conv->pad[0];
    g.padW = conv->pad[1];
    g.strideH = conv->stride[0];
    g.strideW = conv->stride[1];
    g.dilH = conv->dilation[0];
    g.dilW = conv->dilation[1];
    g.flip = conv->mode == CUDNN_CONVOLUTION;
    g.OH = OutputDim(g.H, g.padH, g.R, g.dilH, g.strideH);
    g.OW = OutputDim(g.W, g.padW, g.S, g.dilW, g.strideW);
    if (g.OH <= 0 || g.OW <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: the dilated filter %d×%d (dilation %d×%d) does not fit the padded input %d×%d", call, g.R,
            g.S, g.dilH, g.dilW, g.H + 2 * g.padH, g.W + 2 * g.padW);
    if (y->dims[0] != g.N || y->dims[1] != g.K || y->dims[2] != g.OH || y->dims[3] != g.OW)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: output tensor %s, expected [%d,%d,%d,%d] for x %s, w %s, pad %d×%d, stride %d×%d, dilation %d×%d",
            call, Describe(*y).c_str(), g.N, g.K, g.OH, g.OW, Describe(*x).c_str(), Describe(*w).c_str(), g.padH, g.padW, g.strideH,
            g.strideW, g.dilH, g.dilW);
    for (int i = 0; i < 4; i++)
    {
        g.xs[i] = x->strides[i];
        g.ys[i] = y->strides[i];
    }
    g.xBytes = TensorBytes(*x);
    g.yBytes = TensorBytes(*y);
    g.wBytes = (size_t)g.K * g.Cg * g.R * g.S * ElementSize(g.type);
    return CUDNN_STATUS_SUCCESS;
}

const char* AlgoName(Pass pass, int algo)
{
    static const char* forward[] = {"CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM", "CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM",
        "CUDNN_CONVOLUTION_FWD_ALGO_GEMM", "CUDNN_CONVOLUTION_FWD_ALGO_DIRECT", "CUDNN_CONVOLUTION_FWD_ALGO_FFT",
        "CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING", "CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD", "CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED"};
    static const char* data[] = {"CUDNN_CONVOLUTION_BWD_DATA_ALGO_0", "CUDNN_CONVOLUTION_BWD_DATA_ALGO_1",
        "CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT", "CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING", "CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD",
        "CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED"};
    static const char* filter[] = {"CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0", "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1",
        "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT", "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3", "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD",
        "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED", "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING"};
    switch (pass)
    {
    case Pass::Forward: return forward[algo];
    case Pass::BackwardData: return data[algo];
    default: return filter[algo];
    }
}

size_t Round256(size_t bytes) { return (bytes + 255) / 256 * 256; }

// What one algorithm of one pass needs: supported or not, its workspace and determinism.
struct AlgoInfo
{
    bool supported;
    size_t workspace;
    bool deterministic;
    float cost; // relative cost used for the reported time
};

AlgoInfo Info(Pass pass, int algo, const Geometry& g)
{
    size_t element = ElementSize(g.type);
    size_t columns = Round256((size_t)g.Cg * g.R * g.S * g.OH * g.OW * element);
    switch (pass)
    {
    case Pass::Forward:
        switch (algo)
        {
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return {true, 0, true, 1.3f};
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return {true, Round256(3 * sizeof(int) * (size_t)g.Cg * g.R * g.S), true, 1.0f};
        case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return {true, columns, true, 1.6f};
        default: return {false, 0, true, 0};
        }
    case Pass::BackwardData:
        switch (algo)
        {
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return {true, 0, false, 1.4f};
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return {true, columns, true, 1.0f};
        default: return {false, 0, true, 0};
        }
    default:
        switch (algo)
        {
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0: return {true, 0, false, 1.5f};
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1: return {true, columns, true, 1.0f};
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3: return {true, Round256((size_t)g.K * g.Cg * g.R * g.S * element), false, 1.2f};
        default: return {false, 0, true, 0};
        }
    }
}

int AlgoCount(Pass pass)
{
    switch (pass)
    {
    case Pass::Forward: return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case Pass::BackwardData: return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    default: return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
    }
}

// The heuristic ranking: supported algorithms first, as cuDNN's heuristics would list them.
const int* Ranking(Pass pass)
{
    static const int forward[] = {1, 0, 2, 6, 7, 4, 5, 3};
    static const int data[] = {1, 0, 4, 5, 2, 3};
    static const int filter[] = {1, 0, 3, 5, 2, 6, 4};
    switch (pass)
    {
    case Pass::Forward: return forward;
    case Pass::BackwardData: return data;
    default: return filter;
    }
}

cudnnMathType_t ReportedMath(const cudnnConvolutionStruct* conv, cudnnDataType_t type)
{
    if (type == CUDNN_DATA_DOUBLE) return CUDNN_DEFAULT_MATH;
    return conv->math;
}

// Fills the perf array (the layout shared by the three perf structs) in ranking order.
template <typename Perf>
void FillPerf(Pass pass, const Geometry& g, const cudnnConvolutionStruct* conv, int requested, int* returned, Perf* perf,
    size_t availableWorkspace)
{
    int count = AlgoCount(pass);
    if (requested < count) count = requested;
    const int* order = Ranking(pass);
    double flops = 2.0 * g.N * g.K * g.Cg * g.R * g.S * g.OH * g.OW;
    for (int i = 0; i < count; i++)
    {
        AlgoInfo info = Info(pass, order[i], g);
        Perf& p = perf[i];
        std::memset(&p, 0, sizeof p);
        p.algo = (decltype(p.algo))order[i];
        bool fits = info.workspace <= availableWorkspace;
        p.status = !info.supported ? CUDNN_STATUS_NOT_SUPPORTED : fits ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
        p.time = info.supported ? (float)(flops / 5e10 * info.cost) + 0.005f * (float)(i + 1) : -1.0f;
        p.memory = info.supported ? info.workspace : 0;
        p.determinism = info.deterministic ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC;
        p.mathType = ReportedMath(conv, g.type);
    }
    *returned = count;
}

template <typename T>
void Forward(const Geometry& g, const void* x, const void* w, void* y, double alpha, double beta)
{
    for (int n = 0; n < g.N; n++)
        for (int k = 0; k < g.K; k++)
        {
            int c0 = (k / g.Kg) * g.Cg;
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                {
                    double sum = 0;
                    for (int c = 0; c < g.Cg; c++)
                        for (int r = 0; r < g.R; r++)
                        {
                            int ih = oh * g.strideH - g.padH + r * g.dilH;
                            if (ih < 0 || ih >= g.H) continue;
                            int fr = g.flip ? g.R - 1 - r : r;
                            for (int s = 0; s < g.S; s++)
                            {
                                int iw = ow * g.strideW - g.padW + s * g.dilW;
                                if (iw < 0 || iw >= g.W) continue;
                                int fs = g.flip ? g.S - 1 - s : s;
                                sum += Load<T>(x, n * g.xs[0] + (c0 + c) * g.xs[1] + ih * g.xs[2] + iw * g.xs[3]) *
                                    Load<T>(w, (((long long)k * g.Cg + c) * g.R + fr) * g.S + fs);
                            }
                        }
                    Blend<T>(y, n * g.ys[0] + k * g.ys[1] + oh * g.ys[2] + ow * g.ys[3], sum, alpha, beta);
                }
        }
}

// dx = alpha·(∂y/∂x)ᵀ·dy + beta·dx; xs/ys strides are those of dx and dy here.
template <typename T>
void BackwardData(const Geometry& g, const void* w, const void* dy, void* dx, double alpha, double beta)
{
    std::vector<double> acc((size_t)g.N * g.C * g.H * g.W, 0.0);
    for (int n = 0; n < g.N; n++)
        for (int k = 0; k < g.K; k++)
        {
            int c0 = (k / g.Kg) * g.Cg;
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                {
                    double d = Load<T>(dy, n * g.ys[0] + k * g.ys[1] + oh * g.ys[2] + ow * g.ys[3]);
                    for (int c = 0; c < g.Cg; c++)
                        for (int r = 0; r < g.R; r++)
                        {
                            int ih = oh * g.strideH - g.padH + r * g.dilH;
                            if (ih < 0 || ih >= g.H) continue;
                            int fr = g.flip ? g.R - 1 - r : r;
                            for (int s = 0; s < g.S; s++)
                            {
                                int iw = ow * g.strideW - g.padW + s * g.dilW;
                                if (iw < 0 || iw >= g.W) continue;
                                int fs = g.flip ? g.S - 1 - s : s;
                                acc[(((size_t)n * g.C + c0 + c) * g.H + ih) * g.W + iw] +=
                                    d * Load<T>(w, (((long long)k * g.Cg + c) * g.R + fr) * g.S + fs);
                            }
                        }
                }
        }
    for (int n = 0; n < g.N; n++)
        for (int c = 0; c < g.C; c++)
            for (int h = 0; h < g.H; h++)
                for (int x = 0; x < g.W; x++)
                    Blend<T>(dx, n * g.xs[0] + c * g.xs[1] + h * g.xs[2] + x * g.xs[3], acc[(((size_t)n * g.C + c) * g.H + h) * g.W + x],
                        alpha, beta);
}

template <typename T>
void BackwardFilter(const Geometry& g, const void* x, const void* dy, void* dw, double alpha, double beta)
{
    for (int k = 0; k < g.K; k++)
    {
        int c0 = (k / g.Kg) * g.Cg;
        for (int c = 0; c < g.Cg; c++)
            for (int fr = 0; fr < g.R; fr++)
                for (int fs = 0; fs < g.S; fs++)
                {
                    int r = g.flip ? g.R - 1 - fr : fr, s = g.flip ? g.S - 1 - fs : fs;
                    double sum = 0;
                    for (int n = 0; n < g.N; n++)
                        for (int oh = 0; oh < g.OH; oh++)
                        {
                            int ih = oh * g.strideH - g.padH + r * g.dilH;
                            if (ih < 0 || ih >= g.H) continue;
                            for (int ow = 0; ow < g.OW; ow++)
                            {
                                int iw = ow * g.strideW - g.padW + s * g.dilW;
                                if (iw < 0 || iw >= g.W) continue;
                                sum += Load<T>(x, n * g.xs[0] + (c0 + c) * g.xs[1] + ih * g.xs[2] + iw * g.xs[3]) *
                                    Load<T>(dy, n * g.ys[0] + k * g.ys[1] + oh * g.ys[2] + ow * g.ys[3]);
                            }
                        }
                    Blend<T>(dw, (((long long)k * g.Cg + c) * g.R + fr) * g.S + fs, sum, alpha, beta);
                }
    }
}

// Argument checks, workspace and device-range checks shared by the three passes, then the computation.
// `in`/`out` name the pass's operands for messages; ws is poisoned first so aliasing with data shows.
cudnnStatus_t Run(Pass pass, cudnnHandle_t handle, const void* alpha, const cudnnTensorStruct* x, const void* xp,
    const cudnnFilterStruct* w, const void* wp, const cudnnConvolutionStruct* conv, int algo, void* ws, size_t wsBytes,
    const void* beta, const cudnnTensorStruct* y, const void* yp)
{
    const char* call = PassCall(pass);
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    Geometry g;
    cudnnStatus_t status = Validate(call, x, w, conv, y, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (alpha == nullptr || beta == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: alpha and beta must point to host scalars", call);
    if (algo < 0 || algo >= AlgoCount(pass)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: algo = %d is not an algorithm of this pass", call, algo);
    AlgoInfo info = Info(pass, algo, g);
    if (!info.supported)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: algo %d (%s) is not supported for this configuration", call, algo, AlgoName(pass, algo));
    if (wsBytes < info.workspace)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: algo %d (%s) needs a %zu-byte workspace, given workSpaceSizeInBytes = %zu", call, algo,
            AlgoName(pass, algo), info.workspace, wsBytes);
    if (wsBytes > 0 && ws == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: workSpace is NULL with workSpaceSizeInBytes = %zu", call, wsBytes);
    if (xp == nullptr || wp == nullptr || yp == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a data pointer is NULL", call);
    const char* xName = pass == Pass::BackwardData ? "dx" : "x";
    const char* yName = pass == Pass::Forward ? "y" : "dy";
    const char* wName = pass == Pass::BackwardFilter ? "dw" : "w";
    if (!InDevice(xp, g.xBytes, call)) return FailRange(call, xName);
    if (!InDevice(wp, g.wBytes, call)) return FailRange(call, wName);
    if (!InDevice(yp, g.yBytes, call)) return FailRange(call, yName);
    if (wsBytes > 0 && !InDevice(ws, wsBytes, call)) return FailRange(call, "workSpace");
    SyncStream(handle);
    if (info.workspace > 0) std::memset(ws, 0xFF, info.workspace);
    double a = Scalar(alpha, g.type), b = Scalar(beta, g.type);
    bool f32 = g.type == CUDNN_DATA_FLOAT;
    switch (pass)
    {
    case Pass::Forward:
        if (f32) Forward<float>(g, xp, wp, (void*)yp, a, b);
        else Forward<double>(g, xp, wp, (void*)yp, a, b);
        break;
    case Pass::BackwardData:
        if (f32) BackwardData<float>(g, wp, yp, (void*)xp, a, b);
        else BackwardData<double>(g, wp, yp, (void*)xp, a, b);
        break;
    case Pass::BackwardFilter:
        if (f32) BackwardFilter<float>(g, xp, yp, (void*)wp, a, b);
        else BackwardFilter<double>(g, xp, yp, (void*)wp, a, b);
        break;
    }
    return CUDNN_STATUS_SUCCESS;
}

template <typename Perf>
cudnnStatus_t Query(Pass pass, const char* call, cudnnHandle_t handle, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
    const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y, int requested, int* returned, Perf* perf)
{
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    Geometry g;
    cudnnStatus_t status = Validate(call, x, w, conv, y, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (requested <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: requestedAlgoCount = %d must be positive", call, requested);
    if (returned == nullptr || perf == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: returnedAlgoCount and perfResults must not be NULL", call);
    FillPerf(pass, g, conv, requested, returned, perf, (size_t)-1);
    return CUDNN_STATUS_SUCCESS;
}

// Find…Ex: runs the best algorithm that fits the given workspace (writing the output, as cuDNN may) and ranks them.
template <typename Perf>
cudnnStatus_t FindEx(Pass pass, const char* call, cudnnHandle_t handle, const cudnnTensorStruct* x, const void* xp,
    const cudnnFilterStruct* w, const void* wp, const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y, const void* yp,
    int requested, int* returned, Perf* perf, void* ws, size_t wsBytes)
{
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    Geometry g;
    cudnnStatus_t status = Validate(call, x, w, conv, y, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (requested <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: requestedAlgoCount = %d must be positive", call, requested);
    if (returned == nullptr || perf == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: returnedAlgoCount and perfResults must not be NULL", call);
    FillPerf(pass, g, conv, requested, returned, perf, wsBytes);
    int best = -1;
    for (int i = 0; i < *returned && best < 0; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) best = (int)perf[i].algo;
    if (best < 0) return CUDNN_STATUS_SUCCESS;
    double one = 1.0, zero = 0.0;
    float onef = 1.0f, zerof = 0.0f;
    bool f32 = g.type == CUDNN_DATA_FLOAT;
    return Run(pass, handle, f32 ? (const void*)&onef : &one, x, xp, w, wp, conv, best, ws, wsBytes, f32 ? (const void*)&zerof : &zero, y, yp);
}

template <typename Algo>
cudnnStatus_t WorkspaceSize(Pass pass, const char* call, cudnnHandle_t handle, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
    const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y, Algo algo, size_t* bytes)
{
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    Geometry g;
    cudnnStatus_t status = Validate(call, x, w, conv, y, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (bytes == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: sizeInBytes is NULL", call);
    if ((int)algo < 0 || (int)algo >= AlgoCount(pass)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: algo = %d is not an algorithm of this pass", call, (int)algo);
    AlgoInfo info = Info(pass, (int)algo, g);
    if (!info.supported)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: algo %d (%s) is not supported for this configuration", call, (int)algo,
            AlgoName(pass, (int)algo));
    *bytes = info.workspace;
    return CUDNN_STATUS_SUCCESS;
}
} // namespace

extern "C" {

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t inputTensorDesc, const cudnnFilterDescriptor_t filterDesc, int* n, int* c, int* h, int* w)
{
    const char* call = "cudnnGetConvolution2dForwardOutputDim";
    const cudnnTensorStruct* x = inputTensorDesc;
    const cudnnFilterStruct* f = filterDesc;
    if (convDesc == nullptr || !convDesc->set || x == nullptr || !x->set || f == nullptr || !f->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a descriptor is NULL or was never set", call);
    if (x->nbDims != 4 || f->nbDims != 4)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x %s and w %s must be 4-d", call, Describe(*x).c_str(), Describe(*f).c_str());
    if (f->dims[1] * convDesc->groups != x->dims[1])
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: input channels %d != filter channels %d × groups %d", call, x->dims[1], f->dims[1],
            convDesc->groups);
    if (n == nullptr || c == nullptr || h == nullptr || w == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: an output pointer is NULL", call);
    int oh = OutputDim(x->dims[2], convDesc->pad[0], f->dims[2], convDesc->dilation[0], convDesc->stride[0]);
    int ow = OutputDim(x->dims[3], convDesc->pad[1], f->dims[3], convDesc->dilation[1], convDesc->stride[1]);
    if (oh <= 0 || ow <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: the dilated filter does not fit the padded input (x %s, w %s)", call, Describe(*x).c_str(),
            Describe(*f).c_str());
    *n = x->dims[0];
    *c = f->dims[0];
    *h = oh;
    *w = ow;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t destDesc,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults)
{
    return Query(Pass::Forward, "cudnnGetConvolutionForwardAlgorithm_v7", handle, srcDesc, filterDesc, convDesc, destDesc,
        requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t yDesc, void* y, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes)
{
    return FindEx(Pass::Forward, "cudnnFindConvolutionForwardAlgorithmEx", handle, xDesc, x, wDesc, w, convDesc, yDesc, y,
        requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
    const cudnnFilterDescriptor_t wDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,
    cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes)
{
    return WorkspaceSize(Pass::Forward, "cudnnGetConvolutionForwardWorkspaceSize", handle, xDesc, wDesc, convDesc, yDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
    void* workSpace, size_t workSpaceSizeInBytes, const void* beta, const cudnnTensorDescriptor_t yDesc, void* y)
{
    return Run(Pass::Forward, handle, alpha, xDesc, x, wDesc, w, convDesc, (int)algo, workSpace, workSpaceSizeInBytes, beta, yDesc, y);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults)
{
    return Query(Pass::BackwardData, "cudnnGetConvolutionBackwardDataAlgorithm_v7", handle, gradDesc, filterDesc, convDesc, diffDesc,
        requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void* w,
    const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t dxDesc, void* dx, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes)
{
    return FindEx(Pass::BackwardData, "cudnnFindConvolutionBackwardDataAlgorithmEx", handle, dxDesc, dx, wDesc, w, convDesc, dyDesc, dy,
        requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes)
{
    return WorkspaceSize(Pass::BackwardData, "cudnnGetConvolutionBackwardDataWorkspaceSize", handle, dxDesc, wDesc, convDesc, dyDesc, algo,
        sizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t wDesc,
    const void* w, const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdDataAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
    const cudnnTensorDescriptor_t dxDesc, void* dx)
{
    return Run(Pass::BackwardData, handle, alpha, dxDesc, dx, wDesc, w, convDesc, (int)algo, workSpace, workSpaceSizeInBytes, beta, dyDesc, dy);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults)
{
    return Query(Pass::BackwardFilter, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", handle, srcDesc, gradDesc, convDesc, diffDesc,
        requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
    const void* x, const cudnnTensorDescriptor_t dyDesc, const void* y, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t dwDesc, void* dw, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes)
{
    return FindEx(Pass::BackwardFilter, "cudnnFindConvolutionBackwardFilterAlgorithmEx", handle, xDesc, x, dwDesc, dw, convDesc, dyDesc, y,
        requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes)
{
    return WorkspaceSize(Pass::BackwardFilter, "cudnnGetConvolutionBackwardFilterWorkspaceSize", handle, xDesc, gradDesc, convDesc, dyDesc,
        algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc,
    const void* x, const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
    const cudnnFilterDescriptor_t dwDesc, void* dw)
{
    return Run(Pass::BackwardFilter, handle, alpha, xDesc, x, dwDesc, dw, convDesc, (int)algo, workSpace, workSpaceSizeInBytes, beta, dyDesc, dy);
}

} // extern "C"
