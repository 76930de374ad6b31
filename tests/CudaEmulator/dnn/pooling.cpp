// Emulated cuDNN 2-d pooling: max (NaN propagated or not, as the descriptor says), average counting
// or excluding the padding, forward and backward, with alpha/beta blending.
#include <cmath>

#include "dnn_common.h"

using namespace dnn;

namespace
{
struct PoolGeometry
{
    cudnnDataType_t type;
    int N, C, H, W, OH, OW, wH, wW, padH, padW, strideH, strideW;
    cudnnPoolingMode_t mode;
    bool propagateNan;
    long long xs[4], ys[4];
};

cudnnStatus_t Validate(const char* call, const cudnnPoolingStruct* pool, const cudnnTensorStruct* x, const cudnnTensorStruct* y,
    PoolGeometry& g)
{
    if (pool == nullptr || !pool->set || x == nullptr || !x->set || y == nullptr || !y->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a pooling or tensor descriptor is NULL or was never set", call);
    if (x->nbDims != 4 || y->nbDims != 4)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: only 2-d pooling (4-d tensors) is emulated; x %s, y %s", call, Describe(*x).c_str(),
            Describe(*y).c_str());
    if (x->type != y->type) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x %s and y %s differ in data type", call, Describe(*x).c_str(), Describe(*y).c_str());
    if (x->type != CUDNN_DATA_FLOAT && x->type != CUDNN_DATA_DOUBLE)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: data type %s is not emulated (FLOAT or DOUBLE)", call, TypeName(x->type));
    g.type = x->type;
    g.N = x->dims[0];
    g.C = x->dims[1];
    g.H = x->dims[2];
    g.W = x->dims[3];
    g.wH = pool->window[0];
    g.wW = pool->window[1];
    g.padH = pool->pad[0];
    g.padW = pool->pad[1];
    g.strideH = pool->stride[0];
    g.strideW = pool->stride[1];
    g.mode = pool->mode;
    g.propagateNan = pool->nan == CUDNN_PROPAGATE_NAN;
    if (g.wH > g.H + 2 * g.padH || g.wW > g.W + 2 * g.padW)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: window %d×%d is larger than the padded input %d×%d", call, g.wH, g.wW, g.H + 2 * g.padH,
            g.W + 2 * g.padW);
    if (g.padH >= g.wH || g.padW >= g.wW)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: padding %d×%d must be smaller than the window %d×%d", call, g.padH, g.padW, g.wH, g.wW);
    g.OH = 1 + (g.H + 2 * g.padH - g.wH) / g.strideH;
    g.OW = 1 + (g.W + 2 * g.padW - g.wW) / g.strideW;
    if (y->dims[0] != g.N || y->dims[1] != g.C || y->dims[2] != g.OH || y->dims[3] != g.OW)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: output tensor %s, expected [%d,%d,%d,%d] for x %s, window %d×%d, pad %d×%d, stride %d×%d",
            call, Describe(*y).c_str(), g.N, g.C, g.OH, g.OW, Describe(*x).c_str(), g.wH, g.wW, g.padH, g.padW, g.strideH, g.strideW);
    for (int i = 0; i < 4; i++)
    {
        g.xs[i] = x->strides[i];
        g.ys[i] = y->strides[i];
    }
    return CUDNN_STATUS_SUCCESS;
}

bool IsMax(cudnnPoolingMode_t mode) { return mode == CUDNN_POOLING_MAX || mode == CUDNN_POOLING_MAX_DETERMINISTIC; }

// The window of output (oh, ow) clipped to the input, and the divisor average pooling uses for it.
struct Window
{
    int h0, h1, w0, w1;
    int divisor;
};

Window WindowOf(const PoolGeometry& g, int oh, int ow)
{
    int h0 = oh * g.strideH - g.padH, w0 = ow * g.strideW - g.padW;
    Window win{h0 < 0 ? 0 : h0, h0 + g.wH > g.H ? g.H : h0 + g.wH, w0 < 0 ? 0 : w0, w0 + g.wW > g.W ? g.W : w0 + g.wW, 0};
    win.divisor = g.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING ? g.wH * g.wW : (win.h1 - win.h0) * (win.w1 - win.w0);
    return win;
}

// The first maximum of the window in row-major order (NaN counts as the maximum when propagated), as
// h·W + w within the plane, or -1 when the window holds only NaN.
template <typename T> long long ArgMax(const PoolGeometry& g, const void* x, long long plane, const Window& win, double& best)
{
    long long where = -1;
    best = -INFINITY;
    for (int h = win.h0; h < win.h1; h++)
        for (int w = win.w0; w < win.w1; w++)
        {
            double v = Load<T>(x, plane + h * g.xs[2] + w * g.xs[3]);
            if (std::isnan(v))
            {
                if (g.propagateNan)
                {
                    best = v;
                    return (long long)h * g.W + w;
                }
                continue;
            }
            if (where < 0 || v > best)
            {
                best = v;
                where = (long long)h * g.W + w;
            }
        }
    return where;
}

template <typename T> void Forward(const PoolGeometry& g, const void* x, void* y, double alpha, double beta)
{
    for (int n = 0; n < g.N; n++)
        for (int c = 0; c < g.C; c++)
        {
            long long plane = n * g.xs[0] + c * g.xs[1];
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                {
                    Window win = WindowOf(g, oh, ow);
                    double value = 0;
                    if (IsMax(g.mode))
                    {
                        if (ArgMax<T>(g, x, plane, win, value) < 0) value = g.propagateNan ? NAN : -INFINITY;
                    }
                    else
                    {
                        for (int h = win.h0; h < win.h1; h++)
                            for (int w = win.w0; w < win.w1; w++) value += Load<T>(x, plane + h * g.xs[2] + w * g.xs[3]);
                        value /= win.divisor;
                    }
                    Blend<T>(y, n * g.ys[0] + c * g.ys[1] + oh * g.ys[2] + ow * g.ys[3], value, alpha, beta);
                }
        }
}

template <typename T> void Backward(const PoolGeometry& g, const void* x, const void* dy, const long long* dys, void* dx,
    const long long* dxs, double alpha, double beta)
{
    std::vector<double> acc((size_t)g.N * g.C * g.H * g.W, 0.0);
    for (int n = 0; n < g.N; n++)
        for (int c = 0; c < g.C; c++)
        {
            long long plane = n * g.xs[0] + c * g.xs[1];
            double* accPlane = acc.data() + ((size_t)n * g.C + c) * g.H * g.W;
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                {
                    Window win = WindowOf(g, oh, ow);
                    double d = Load<T>(dy, n * dys[0] + c * dys[1] + oh * dys[2] + ow * dys[3]);
                    if (IsMax(g.mode))
                    {
                        double best;
                        long long where = ArgMax<T>(g, x, plane, win, best);
                        if (where >= 0) accPlane[where] += d;
                    }
                    else
                    {
                        double share = d / win.divisor;
                        for (int h = win.h0; h < win.h1; h++)
                            for (int w = win.w0; w < win.w1; w++) accPlane[(size_t)h * g.W + w] += share;
                    }
                }
        }
    for (int n = 0; n < g.N; n++)
        for (int c = 0; c < g.C; c++)
            for (int h = 0; h < g.H; h++)
                for (int w = 0; w < g.W; w++)
                    Blend<T>(dx, n * dxs[0] + c * dxs[1] + h * dxs[2] + w * dxs[3], acc[(((size_t)n * g.C + c) * g.H + h) * g.W + w], alpha, beta);
}

bool SameDims(const cudnnTensorStruct* a, const cudnnTensorStruct* b)
{
    if (a->nbDims != b->nbDims || a->type != b->type) return false;
    for (int i = 0; i < a->nbDims; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}
} // namespace

extern "C" {

cudnnStatus_t cudnnPoolingForward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void* alpha,
    const cudnnTensorDescriptor_t xDesc, const void* x, const void* beta, const cudnnTensorDescriptor_t yDesc, void* y)
{
    const char* call = "cudnnPoolingForward";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    PoolGeometry g;
    cudnnStatus_t status = Validate(call, poolingDesc, xDesc, yDesc, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (alpha == nullptr || beta == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: alpha and beta must point to host scalars", call);
    if (x == nullptr || y == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x or y is NULL", call);
    if (!InDevice(x, TensorBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(y, TensorBytes(*yDesc), call)) return FailRange(call, "y");
    SyncStream(handle);
    double a = Scalar(alpha, g.type), b = Scalar(beta, g.type);
    if (g.type == CUDNN_DATA_FLOAT) Forward<float>(g, x, y, a, b);
    else Forward<double>(g, x, y, a, b);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void* alpha,
    const cudnnTensorDescriptor_t yDesc, const void* y, const cudnnTensorDescriptor_t dyDesc, const void* dy,
    const cudnnTensorDescriptor_t xDesc, const void* x, const void* beta, const cudnnTensorDescriptor_t dxDesc, void* dx)
{
    const char* call = "cudnnPoolingBackward";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    PoolGeometry g;
    cudnnStatus_t status = Validate(call, poolingDesc, xDesc, yDesc, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (dyDesc == nullptr || !dyDesc->set || dxDesc == nullptr || !dxDesc->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dyDesc or dxDesc is NULL or was never set", call);
    if (!SameDims(yDesc, dyDesc))
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dy %s differs from y %s", call, Describe(*dyDesc).c_str(), Describe(*yDesc).c_str());
    if (!SameDims(xDesc, dxDesc))
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dx %s differs from x %s", call, Describe(*dxDesc).c_str(), Describe(*xDesc).c_str());
    if (alpha == nullptr || beta == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: alpha and beta must point to host scalars", call);
    if (x == nullptr || y == nullptr || dy == nullptr || dx == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a data pointer is NULL", call);
    if (!InDevice(y, TensorBytes(*yDesc), call)) return FailRange(call, "y");
    if (!InDevice(dy, TensorBytes(*dyDesc), call)) return FailRange(call, "dy");
    if (!InDevice(x, TensorBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(dx, TensorBytes(*dxDesc), call)) return FailRange(call, "dx");
    SyncStream(handle);
    long long dys[4], dxs[4];
    for (int i = 0; i < 4; i++)
    {
        dys[i] = dyDesc->strides[i];
        dxs[i] = dxDesc->strides[i];
    }
    double a = Scalar(alpha, g.type), b = Scalar(beta, g.type);
    if (g.type == CUDNN_DATA_FLOAT) Backward<float>(g, x, dy, dys, dx, dxs, a, b);
    else Backward<double>(g, x, dy, dys, dx, dxs, a, b);
    return CUDNN_STATUS_SUCCESS;
}

} // extern "C"
