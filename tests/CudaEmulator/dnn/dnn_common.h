// Shared state of the emulated cuDNN: descriptor structs, failure recording, tensor geometry helpers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../include/cudnn_emu.h"
#include "../include/nnemu.h"

struct cudnnContext
{
    CUstream stream = nullptr;
};

struct cudnnTensorStruct
{
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int nbDims = 0;
    int dims[CUDNN_DIM_MAX] = {};
    int strides[CUDNN_DIM_MAX] = {};
};

struct cudnnFilterStruct
{
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
    int nbDims = 0;
    int dims[CUDNN_DIM_MAX] = {};
};

struct cudnnConvolutionStruct
{
    bool set = false;
    int pad[2] = {0, 0}, stride[2] = {1, 1}, dilation[2] = {1, 1};
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    cudnnDataType_t computeType = CUDNN_DATA_FLOAT;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    int groups = 1;
};

struct cudnnPoolingStruct
{
    bool set = false;
    cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
    cudnnNanPropagation_t nan = CUDNN_NOT_PROPAGATE_NAN;
    int window[2] = {1, 1}, pad[2] = {0, 0}, stride[2] = {1, 1};
};

struct cudnnDropoutStruct
{
    bool set = false;
    float dropout = 0;
    void* states = nullptr;
    size_t stateBytes = 0;
    unsigned long long seed = 0;
};

namespace dnn
{
// Records the failure of a call (message through the driver's nnemu_report) and returns the status.
cudnnStatus_t Fail(cudnnStatus_t status, const char* format, ...) __attribute__((format(printf, 2, 3)));
// A device-range failure: the driver recorded the address, the offset and the allocation.
cudnnStatus_t FailRange(const char* call, const char* operand);
const char* StatusName(cudnnStatus_t status);
bool LiveHandle(cudnnHandle_t handle);
// Runs the work queued on the handle's stream before the host computes (stream order).
void SyncStream(cudnnHandle_t handle);

size_t ElementSize(cudnnDataType_t type);
const char* TypeName(cudnnDataType_t type);
// Bytes from the first to one past the last element a tensor descriptor addresses.
size_t TensorBytes(const cudnnTensorStruct& t);
std::string Describe(const cudnnTensorStruct& t);
std::string Describe(const cudnnFilterStruct& f);
// Checks [ptr, ptr + bytes) against device memory; false (message recorded) when outside.
bool InDevice(const void* ptr, size_t bytes, const char* call);
// Host scalar alpha/beta: float for float data, double for double data.
double Scalar(const void* p, cudnnDataType_t type);

// Offsets (in elements) of every index of dims [first, nbDims) in row-major order, for one tensor.
std::vector<long long> SpatialOffsets(const cudnnTensorStruct& t, int first);

template <typename T> inline double Load(const void* base, long long offset) { return (double)((const T*)base)[offset]; }
template <typename T> inline void Store(void* base, long long offset, double v) { ((T*)base)[offset] = (T)v; }

// out = alpha·value + beta·out, out not read when beta is 0 (cuDNN's documented blending).
template <typename T> inline void Blend(void* base, long long offset, double value, double alpha, double beta)
{
    double prior = beta == 0 ? 0.0 : beta * (double)((T*)base)[offset];
    ((T*)base)[offset] = (T)(alpha * value + prior);
}
} // namespace dnn
