// Emulated cuDNN: handle, error strings, tensor/filter/convolution/pooling/dropout descriptors.
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include "dnn_common.h"
#include "../include/nnemu_status.h"

namespace
{
std::mutex g_handlesLock;
std::set<cudnnHandle_t> g_handles;

bool ValidType(cudnnDataType_t t)
{
    switch (t)
    {
    case CUDNN_DATA_FLOAT: case CUDNN_DATA_DOUBLE: case CUDNN_DATA_HALF: case CUDNN_DATA_INT8:
    case CUDNN_DATA_INT32: case CUDNN_DATA_BFLOAT16: case CUDNN_DATA_INT64:
        return true;
    }
    return false;
}
} // namespace

namespace dnn
{
const char* StatusName(cudnnStatus_t s)
{
    switch (s)
    {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN";
}

// The status and message of the calling thread's last failed call, for cudnnGetErrorString.
using Log = nnemu::StatusLog<cudnnStatus_t, CUDNN_STATUS_SUCCESS, StatusName>;

cudnnStatus_t Fail(cudnnStatus_t status, const char* format, ...)
{
    va_list args;
    va_start(args, format);
    status = Log::FailV(status, format, args);
    va_end(args);
    return status;
}

cudnnStatus_t FailRange(const char* call, const char* operand)
{
    return Log::FailRange(CUDNN_STATUS_EXECUTION_FAILED, call, operand);
}

bool LiveHandle(cudnnHandle_t handle)
{
    std::lock_guard<std::mutex> lock(g_handlesLock);
    return handle != nullptr && g_handles.count(handle) != 0;
}

void SyncStream(cudnnHandle_t handle) { cuStreamSynchronize(handle->stream); }

size_t ElementSize(cudnnDataType_t type)
{
    switch (type)
    {
    case CUDNN_DATA_DOUBLE: case CUDNN_DATA_INT64: return 8;
    case CUDNN_DATA_HALF: case CUDNN_DATA_BFLOAT16: return 2;
    case CUDNN_DATA_INT8: return 1;
    default: return 4;
    }
}

const char* TypeName(cudnnDataType_t type)
{
    switch (type)
    {
    case CUDNN_DATA_FLOAT: return "FLOAT";
    case CUDNN_DATA_DOUBLE: return "DOUBLE";
    case CUDNN_DATA_HALF: return "HALF";
    case CUDNN_DATA_INT8: return "INT8";
    case CUDNN_DATA_INT32: return "INT32";
    case CUDNN_DATA_BFLOAT16: return "BFLOAT16";
    case CUDNN_DATA_INT64: return "INT64";
    }
    return "invalid";
}

size_t TensorBytes(const cudnnTensorStruct& t)
{
    size_t last = 0;
    for (int i = 0; i < t.nbDims; i++) last += (size_t)(t.dims[i] - 1) * (size_t)t.strides[i];
    return (last + 1) * ElementSize(t.type);
}

std::string Describe(const cudnnTensorStruct& t)
{
    std::string s = std::string(TypeName(t.type)) + "[";
    for (int i = 0; i < t.nbDims; i++) s += (i ? "," : "") + std::to_string(t.dims[i]);
    s += "] strides [";
    for (int i = 0; i < t.nbDims; i++) s += (i ? "," : "") + std::to_string(t.strides[i]);
    return s + "]";
}

std::string Describe(const cudnnFilterStruct& f)
{
    std::string s = std::string(TypeName(f.type)) + (f.format == CUDNN_TENSOR_NCHW ? " NCHW" : " NHWC") + " filter [";
    for (int i = 0; i < f.nbDims; i++) s += (i ? "," : "") + std::to_string(f.dims[i]);
    return s + "]";
}

bool InDevice(const void* ptr, size_t bytes, const char* call)
{
    return nnemu_check_device_range((uint64_t)(uintptr_t)ptr, bytes, call) == 0;
}

double Scalar(const void* p, cudnnDataType_t type)
{
    return type == CUDNN_DATA_DOUBLE ? *(const double*)p : (double)*(const float*)p;
}

std::vector<long long> SpatialOffsets(const cudnnTensorStruct& t, int first)
{
    std::vector<long long> offsets{0};
    for (int d = first; d < t.nbDims; d++)
    {
        std::vector<long long> next;
        next.reserve(offsets.size() * (size_t)t.dims[d]);
        for (long long o : offsets)
            for (int i = 0; i < t.dims[d]; i++) next.push_back(o + (long long)i * t.strides[d]);
        offsets.swap(next);
    }
    return offsets;
}
} // namespace dnn

using namespace dnn;

extern "C" {

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }

const char* cudnnGetErrorString(cudnnStatus_t status)
{
    return dnn::Log::Describe(status);
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle)
{
    if (handle == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreate: handle is NULL");
    auto* h = new cudnnContext();
    std::lock_guard<std::mutex> lock(g_handlesLock);
    g_handles.insert(h);
    *handle = h;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle)
{
    {
        std::lock_guard<std::mutex> lock(g_handlesLock);
        if (handle != nullptr && g_handles.erase(handle) == 1)
        {
            delete handle;
            return CUDNN_STATUS_SUCCESS;
        }
    }
    return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnDestroy: handle %p is not live (never created or already destroyed)", (void*)handle);
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, CUstream stream)
{
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream: handle %p is not live", (void*)handle);
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

// ---- tensors

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* desc)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateTensorDescriptor: desc is NULL");
    *desc = new cudnnTensorStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc)
{
    delete desc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format, cudnnDataType_t dataType,
    int n, int c, int h, int w)
{
    const char* call = "cudnnSetTensor4dDescriptor";
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: desc is NULL", call);
    if (!ValidType(dataType)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dataType = %d is not a cudnnDataType_t", call, (int)dataType);
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: n = %d, c = %d, h = %d, w = %d must all be positive", call, n, c, h, w);
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: format = %d is not NCHW (0) or NHWC (1)", call, (int)format);
    desc->type = dataType;
    desc->nbDims = 4;
    int dims[4] = {n, c, h, w};
    std::memcpy(desc->dims, dims, sizeof dims);
    if (format == CUDNN_TENSOR_NCHW)
    {
        desc->strides[3] = 1;
        desc->strides[2] = w;
        desc->strides[1] = h * w;
        desc->strides[0] = c * h * w;
    }
    else
    {
        desc->strides[1] = 1;
        desc->strides[3] = c;
        desc->strides[2] = w * c;
        desc->strides[0] = h * w * c;
    }
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t desc, cudnnDataType_t dataType, int nbDims,
    const int dimA[], const int strideA[])
{
    const char* call = "cudnnSetTensorNdDescriptor";
    if (desc == nullptr || dimA == nullptr || strideA == nullptr)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: desc, dimA and strideA must not be NULL", call);
    if (!ValidType(dataType)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dataType = %d is not a cudnnDataType_t", call, (int)dataType);
    if (nbDims > CUDNN_DIM_MAX) return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: nbDims = %d > CUDNN_DIM_MAX (%d)", call, nbDims, CUDNN_DIM_MAX);
    if (nbDims < 3) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: nbDims = %d < 3 (use a 4-d tensor for lower-dimensional data)", call, nbDims);
    for (int i = 0; i < nbDims; i++)
    {
        if (dimA[i] <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dimA[%d] = %d must be positive", call, i, dimA[i]);
        if (strideA[i] <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: strideA[%d] = %d must be positive", call, i, strideA[i]);
    }
    desc->type = dataType;
    desc->nbDims = nbDims;
    for (int i = 0; i < nbDims; i++)
    {
        desc->dims[i] = dimA[i];
        desc->strides[i] = strideA[i];
    }
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t desc, int nbDimsRequested, cudnnDataType_t* dataType,
    int* nbDims, int dimA[], int strideA[])
{
    const char* call = "cudnnGetTensorNdDescriptor";
    if (desc == nullptr || !desc->set) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: descriptor %p was never set", call, (void*)desc);
    if (nbDimsRequested < 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: nbDimsRequested = %d is negative", call, nbDimsRequested);
    if (dataType) *dataType = desc->type;
    if (nbDims) *nbDims = desc->nbDims;
    for (int i = 0; i < nbDimsRequested && i < desc->nbDims; i++)
    {
        if (dimA) dimA[i] = desc->dims[i];
        if (strideA) strideA[i] = desc->strides[i];
    }
    return CUDNN_STATUS_SUCCESS;
}

// ---- filters

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* desc)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateFilterDescriptor: desc is NULL");
    *desc = new cudnnFilterStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t desc)
{
    delete desc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilterNdDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t dataType, cudnnTensorFormat_t format,
    int nbDims, const int filterDimA[])
{
    const char* call = "cudnnSetFilterNdDescriptor";
    if (desc == nullptr || filterDimA == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: desc and filterDimA must not be NULL", call);
    if (!ValidType(dataType)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dataType = %d is not a cudnnDataType_t", call, (int)dataType);
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: format = %d is not NCHW (0) or NHWC (1)", call, (int)format);
    if (nbDims > CUDNN_DIM_MAX) return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: nbDims = %d > CUDNN_DIM_MAX", call, nbDims);
    if (nbDims < 3) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: nbDims = %d < 3", call, nbDims);
    for (int i = 0; i < nbDims; i++)
        if (filterDimA[i] <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: filterDimA[%d] = %d must be positive", call, i, filterDimA[i]);
    desc->type = dataType;
    desc->format = format;
    desc->nbDims = nbDims;
    for (int i = 0; i < nbDims; i++) desc->dims[i] = filterDimA[i];
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t dataType, cudnnTensorFormat_t format,
    int k, int c, int h, int w)
{
    int dims[4] = {k, c, h, w};
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetFilter4dDescriptor: k = %d, c = %d, h = %d, w = %d must all be positive", k, c, h, w);
    return cudnnSetFilterNdDescriptor(desc, dataType, format, 4, dims);
}

// ---- convolution

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* desc)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateConvolutionDescriptor: desc is NULL");
    *desc = new cudnnConvolutionStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t desc)
{
    delete desc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc, int padH, int padW, int strideH, int strideW,
    int dilationH, int dilationW, cudnnConvolutionMode_t mode, cudnnDataType_t computeType)
{
    const char* call = "cudnnSetConvolution2dDescriptor";
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: desc is NULL", call);
    if (padH < 0 || padW < 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: padding %d×%d must not be negative", call, padH, padW);
    if (strideH <= 0 || strideW <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: stride %d×%d must be positive", call, strideH, strideW);
    if (dilationH <= 0 || dilationW <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dilation %d×%d must be positive", call, dilationH, dilationW);
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: mode = %d is not CUDNN_CONVOLUTION (0) or CUDNN_CROSS_CORRELATION (1)", call, (int)mode);
    if (!ValidType(computeType)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: computeType = %d is not a cudnnDataType_t", call, (int)computeType);
    desc->pad[0] = padH;
    desc->pad[1] = padW;
    desc->stride[0] = strideH;
    desc->stride[1] = strideW;
    desc->dilation[0] = dilationH;
    desc->dilation[1] = dilationW;
    desc->mode = mode;
    desc->computeType = computeType;
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc, cudnnMathType_t mathType)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: desc is NULL");
    if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH && mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION &&
        mathType != CUDNN_FMA_MATH)
        return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: mathType = %d is not a cudnnMathType_t", (int)mathType);
    desc->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int groupCount)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionGroupCount: desc is NULL");
    if (groupCount <= 0) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionGroupCount: groupCount = %d must be positive", groupCount);
    desc->groups = groupCount;
    return CUDNN_STATUS_SUCCESS;
}

// ---- pooling

cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t* desc)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreatePoolingDescriptor: desc is NULL");
    *desc = new cudnnPoolingStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t desc)
{
    delete desc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t desc, cudnnPoolingMode_t mode, cudnnNanPropagation_t nan,
    int windowHeight, int windowWidth, int verticalPadding, int horizontalPadding, int verticalStride, int horizontalStride)
{
    const char* call = "cudnnSetPooling2dDescriptor";
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: desc is NULL", call);
    if (mode != CUDNN_POOLING_MAX && mode != CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING &&
        mode != CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING && mode != CUDNN_POOLING_MAX_DETERMINISTIC)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: mode = %d is not a cudnnPoolingMode_t", call, (int)mode);
    if (nan != CUDNN_NOT_PROPAGATE_NAN && nan != CUDNN_PROPAGATE_NAN)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: maxpoolingNanOpt = %d is not a cudnnNanPropagation_t", call, (int)nan);
    if (windowHeight <= 0 || windowWidth <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: window %d×%d must be positive", call, windowHeight, windowWidth);
    if (verticalStride <= 0 || horizontalStride <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: stride %d×%d must be positive", call, verticalStride, horizontalStride);
    if (verticalPadding < 0 || horizontalPadding < 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: padding %d×%d must not be negative", call, verticalPadding, horizontalPadding);
    desc->mode = mode;
    desc->nan = nan;
    desc->window[0] = windowHeight;
    desc->window[1] = windowWidth;
    desc->pad[0] = verticalPadding;
    desc->pad[1] = horizontalPadding;
    desc->stride[0] = verticalStride;
    desc->stride[1] = horizontalStride;
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

// ---- dropout (the RNN descriptor's companion; dropout itself is not emulated)

cudnnStatus_t cudnnCreateDropoutDescriptor(cudnnDropoutDescriptor_t* desc)
{
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateDropoutDescriptor: desc is NULL");
    *desc = new cudnnDropoutStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyDropoutDescriptor(cudnnDropoutDescriptor_t desc)
{
    delete desc;
    return CUDNN_STATUS_SUCCESS;
}

static const size_t kDropoutStateBytes = 64 * 1024;

cudnnStatus_t cudnnDropoutGetStatesSize(cudnnHandle_t handle, size_t* sizeInBytes)
{
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnDropoutGetStatesSize: handle %p is not live", (void*)handle);
    if (sizeInBytes == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnDropoutGetStatesSize: sizeInBytes is NULL");
    *sizeInBytes = kDropoutStateBytes;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetDropoutDescriptor(cudnnDropoutDescriptor_t desc, cudnnHandle_t handle, float dropout, void* states,
    size_t stateSizeInBytes, unsigned long long seed)
{
    const char* call = "cudnnSetDropoutDescriptor";
    if (desc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: desc is NULL", call);
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    if (!(dropout >= 0.0f && dropout < 1.0f)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dropout = %g is not in [0, 1)", call, (double)dropout);
    if (states != nullptr)
    {
        if (stateSizeInBytes < kDropoutStateBytes)
            return Fail(CUDNN_STATUS_BAD_PARAM, "%s: stateSizeInBytes = %zu < %zu (cudnnDropoutGetStatesSize)", call, stateSizeInBytes,
                kDropoutStateBytes);
        if (!InDevice(states, stateSizeInBytes, call)) return FailRange(call, "states");
        SyncStream(handle);
        // The states are the generator's; seeded deterministically as cuDNN's initialisation kernel would.
        unsigned long long x = seed ^ 0x9E3779B97F4A7C15ull;
        auto* bytes = (unsigned char*)states;
        for (size_t i = 0; i < stateSizeInBytes; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes[i] = (unsigned char)x;
        }
    }
    desc->dropout = dropout;
    desc->states = states;
    desc->stateBytes = stateSizeInBytes;
    desc->seed = seed;
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

} // extern "C"
