// Emulated cuDNN batch normalization (4-d and 5-d tensors; spatial or per-activation): the derived
// parameter descriptor, forward training (batch statistics; running mean and the unbiased running
// variance blended with exponentialAverageFactor; saved mean and inverse standard deviation),
// forward inference and backward, with the documented alpha/beta blending.
#include <cmath>

#include "dnn_common.h"

using namespace dnn;

namespace
{
bool ValidMode(cudnnBatchNormMode_t mode)
{
    return mode == CUDNN_BATCHNORM_PER_ACTIVATION || mode == CUDNN_BATCHNORM_SPATIAL || mode == CUDNN_BATCHNORM_SPATIAL_PERSISTENT;
}

bool SameDims(const cudnnTensorStruct& a, const cudnnTensorStruct& b)
{
    if (a.nbDims != b.nbDims || a.type != b.type) return false;
    for (int i = 0; i < a.nbDims; i++)
        if (a.dims[i] != b.dims[i]) return false;
    return true;
}

// One normalisation problem: features f, each reducing over (n, s) for s in its spatial range.
struct BnGeometry
{
    cudnnDataType_t type;
    bool spatial;
    int N, C, S;
    std::vector<long long> xSpatial, ySpatial, pSpatial;
    long long xn, xc, yn, yc, pc;

    int Features() const { return spatial ? C : C * S; }
    int Channel(int f) const { return spatial ? f : f / S; }
    int SpatialBegin(int f) const { return spatial ? 0 : f % S; }
    int SpatialEnd(int f) const { return spatial ? S : f % S + 1; }
    long long Param(int f) const { return spatial ? Channel(f) * pc : Channel(f) * pc + pSpatial[(size_t)(f % S)]; }
    long long Count(int f) const { return (long long)N * (SpatialEnd(f) - SpatialBegin(f)); }
};

cudnnStatus_t Validate(const char* call, cudnnBatchNormMode_t mode, const cudnnTensorStruct* x, const cudnnTensorStruct* y,
    const cudnnTensorStruct* p, BnGeometry& g)
{
    if (!ValidMode(mode)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: mode = %d is not a cudnnBatchNormMode_t", call, (int)mode);
    if (x == nullptr || !x->set || y == nullptr || !y->set || p == nullptr || !p->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a tensor descriptor is NULL or was never set", call);
    if (x->nbDims != 4 && x->nbDims != 5)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x %s must be 4-d or 5-d", call, Describe(*x).c_str());
    if (!SameDims(*x, *y)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: y %s differs from x %s", call, Describe(*y).c_str(), Describe(*x).c_str());
    if (x->type != CUDNN_DATA_FLOAT && x->type != CUDNN_DATA_DOUBLE)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: data type %s is not emulated (FLOAT or DOUBLE)", call, TypeName(x->type));
    g.spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
    // The parameter tensor is what cudnnDeriveBNTensorDescriptor gives: 1×C×1×1(×1) or 1×C×H×W(×D).
    bool shapeOk = p->nbDims == x->nbDims && p->dims[0] == 1 && p->dims[1] == x->dims[1] && p->type == x->type;
    for (int i = 2; shapeOk && i < x->nbDims; i++) shapeOk = p->dims[i] == (g.spatial ? 1 : x->dims[i]);
    if (!shapeOk)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: scale/bias/mean/variance descriptor %s does not match x %s in %s mode", call,
            Describe(*p).c_str(), Describe(*x).c_str(), g.spatial ? "spatial" : "per-activation");
    g.type = x->type;
    g.N = x->dims[0];
    g.C = x->dims[1];
    g.xSpatial = SpatialOffsets(*x, 2);
    g.ySpatial = SpatialOffsets(*y, 2);
    g.pSpatial = SpatialOffsets(*p, 2);
    g.S = (int)g.xSpatial.size();
    g.xn = x->strides[0];
    g.xc = x->strides[1];
    g.yn = y->strides[0];
    g.yc = y->strides[1];
    g.pc = p->strides[1];
    return CUDNN_STATUS_SUCCESS;
}

long long XAt(const BnGeometry& g, int n, int c, int s) { return n * g.xn + c * g.xc + g.xSpatial[(size_t)s]; }
long long YAt(const BnGeometry& g, int n, int c, int s) { return n * g.yn + c * g.yc + g.ySpatial[(size_t)s]; }

template <typename T> void Statistics(const BnGeometry& g, const void* x, int f, double& mean, double& variance)
{
    int c = g.Channel(f);
    double sum = 0;
    for (int n = 0; n < g.N; n++)
        for (int s = g.SpatialBegin(f); s < g.SpatialEnd(f); s++) sum += Load<T>(x, XAt(g, n, c, s));
    mean = sum / (double)g.Count(f);
    double squares = 0;
    for (int n = 0; n < g.N; n++)
        for (int s = g.SpatialBegin(f); s < g.SpatialEnd(f); s++)
        {
            double d = Load<T>(x, XAt(g, n, c, s)) - mean;
            squares += d * d;
        }
    variance = squares / (double)g.Count(f);
}

template <typename T>
void Normalize(const BnGeometry& g, int f, const void* x, void* y, double mean, double invStd, double scale, double bias, double alpha,
    double beta)
{
    int c = g.Channel(f);
    for (int n = 0; n < g.N; n++)
        for (int s = g.SpatialBegin(f); s < g.SpatialEnd(f); s++)
            Blend<T>(y, YAt(g, n, c, s), scale * (Load<T>(x, XAt(g, n, c, s)) - mean) * invStd + bias, alpha, beta);
}

template <typename T>
void ForwardTraining(const BnGeometry& g, double alpha, double beta, const void* x, void* y, const void* scale, const void* bias,
    double factor, void* runningMean, void* runningVar, double epsilon, void* saveMean, void* saveInvVar)
{
    for (int f = 0; f < g.Features(); f++)
    {
        double mean, variance;
        Statistics<T>(g, x, f, mean, variance);
        double invStd = 1.0 / std::sqrt(variance + epsilon);
        long long p = g.Param(f);
        Normalize<T>(g, f, x, y, mean, invStd, Load<T>(scale, p), Load<T>(bias, p), alpha, beta);
        if (runningMean != nullptr)
        {
            long long m = g.Count(f);
            double unbiased = variance * (double)m / (double)(m - 1);
            Store<T>(runningMean, p, (1 - factor) * Load<T>(runningMean, p) + factor * mean);
            Store<T>(runningVar, p, (1 - factor) * Load<T>(runningVar, p) + factor * unbiased);
        }
        if (saveMean != nullptr)
        {
            Store<T>(saveMean, p, mean);
            Store<T>(saveInvVar, p, invStd);
        }
    }
}

template <typename T>
void ForwardInference(const BnGeometry& g, double alpha, double beta, const void* x, void* y, const void* scale, const void* bias,
    const void* mean, const void* variance, double epsilon)
{
    for (int f = 0; f < g.Features(); f++)
    {
        long long p = g.Param(f);
        Normalize<T>(g, f, x, y, Load<T>(mean, p), 1.0 / std::sqrt(Load<T>(variance, p) + epsilon), Load<T>(scale, p), Load<T>(bias, p),
            alpha, beta);
    }
}

template <typename T>
void Backward(const BnGeometry& g, const BnGeometry& gd, double alphaData, double betaData, double alphaParam, double betaParam,
    const void* x, const void* dy, void* dx, const void* scale, void* dScale, void* dBias, double epsilon, const void* savedMean,
    const void* savedInvVar)
{
    // g indexes x (as x) and dy (as y); gd indexes dx (as y).
    for (int f = 0; f < g.Features(); f++)
    {
        int c = g.Channel(f);
        long long p = g.Param(f);
        double mean, invStd;
        if (savedMean != nullptr)
        {
            mean = Load<T>(savedMean, p);
            invStd = Load<T>(savedInvVar, p);
        }
        else
        {
            double variance;
            Statistics<T>(g, x, f, mean, variance);
            invStd = 1.0 / std::sqrt(variance + epsilon);
        }
        double sumDy = 0, sumDyXhat = 0;
        for (int n = 0; n < g.N; n++)
            for (int s = g.SpatialBegin(f); s < g.SpatialEnd(f); s++)
            {
                double d = Load<T>(dy, YAt(g, n, c, s));
                sumDy += d;
                sumDyXhat += d * (Load<T>(x, XAt(g, n, c, s)) - mean) * invStd;
            }
        double m = (double)g.Count(f), gamma = Load<T>(scale, p);
        for (int n = 0; n < g.N; n++)
            for (int s = g.SpatialBegin(f); s < g.SpatialEnd(f); s++)
            {
                double xhat = (Load<T>(x, XAt(g, n, c, s)) - mean) * invStd;
                double d = Load<T>(dy, YAt(g, n, c, s));
                Blend<T>(dx, YAt(gd, n, c, s), gamma * invStd / m * (m * d - sumDy - xhat * sumDyXhat), alphaData, betaData);
            }
        Blend<T>(dScale, p, sumDyXhat, alphaParam, betaParam);
        Blend<T>(dBias, p, sumDy, alphaParam, betaParam);
    }
}
} // namespace

extern "C" {

cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derivedBnDesc, const cudnnTensorDescriptor_t xDesc,
    cudnnBatchNormMode_t mode)
{
    const char* call = "cudnnDeriveBNTensorDescriptor";
    if (derivedBnDesc == nullptr || xDesc == nullptr || !xDesc->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: a descriptor is NULL or was never set", call);
    if (!ValidMode(mode)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: mode = %d is not a cudnnBatchNormMode_t", call, (int)mode);
    if (xDesc->nbDims != 4 && xDesc->nbDims != 5)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x %s must be 4-d or 5-d", call, Describe(*xDesc).c_str());
    int nb = xDesc->nbDims, dims[CUDNN_DIM_MAX], strides[CUDNN_DIM_MAX];
    dims[0] = 1;
    dims[1] = xDesc->dims[1];
    for (int i = 2; i < nb; i++) dims[i] = mode == CUDNN_BATCHNORM_PER_ACTIVATION ? xDesc->dims[i] : 1;
    strides[nb - 1] = 1;
    for (int i = nb - 2; i >= 0; i--) strides[i] = strides[i + 1] * dims[i + 1];
    cudnnDataType_t type = xDesc->type == CUDNN_DATA_HALF || xDesc->type == CUDNN_DATA_BFLOAT16 ? CUDNN_DATA_FLOAT : xDesc->type;
    return cudnnSetTensorNdDescriptor(derivedBnDesc, type, nb, dims, strides);
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha,
    const void* beta, const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale, const void* bnBias,
    double exponentialAverageFactor, void* resultRunningMean, void* resultRunningVariance, double epsilon,
    void* resultSaveMean, void* resultSaveInvVariance)
{
    const char* call = "cudnnBatchNormalizationForwardTraining";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    BnGeometry g;
    cudnnStatus_t status = Validate(call, mode, xDesc, yDesc, bnScaleBiasMeanVarDesc, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (alpha == nullptr || beta == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: alpha and beta must point to host scalars", call);
    if (x == nullptr || y == nullptr || bnScale == nullptr || bnBias == nullptr)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x, y, bnScale and bnBias must not be NULL", call);
    if ((resultRunningMean == nullptr) != (resultRunningVariance == nullptr))
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: resultRunningMean and resultRunningVariance must both be NULL or both be set", call);
    if ((resultSaveMean == nullptr) != (resultSaveInvVariance == nullptr))
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: resultSaveMean and resultSaveInvVariance must both be NULL or both be set", call);
    if (!(epsilon >= CUDNN_BN_MIN_EPSILON)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: epsilon = %g < CUDNN_BN_MIN_EPSILON", call, epsilon);
    if (resultRunningMean != nullptr)
        for (int f = 0; f < g.Features(); f++)
            if (g.Count(f) < 2)
                return Fail(CUDNN_STATUS_BAD_PARAM, "%s: %lld value(s) per feature cannot give an unbiased running variance (x %s)", call,
                    g.Count(f), Describe(*xDesc).c_str());
    size_t pBytes = TensorBytes(*bnScaleBiasMeanVarDesc);
    if (!InDevice(x, TensorBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(y, TensorBytes(*yDesc), call)) return FailRange(call, "y");
    if (!InDevice(bnScale, pBytes, call)) return FailRange(call, "bnScale");
    if (!InDevice(bnBias, pBytes, call)) return FailRange(call, "bnBias");
    if (resultRunningMean != nullptr && !InDevice(resultRunningMean, pBytes, call)) return FailRange(call, "resultRunningMean");
    if (resultRunningVariance != nullptr && !InDevice(resultRunningVariance, pBytes, call)) return FailRange(call, "resultRunningVariance");
    if (resultSaveMean != nullptr && !InDevice(resultSaveMean, pBytes, call)) return FailRange(call, "resultSaveMean");
    if (resultSaveInvVariance != nullptr && !InDevice(resultSaveInvVariance, pBytes, call)) return FailRange(call, "resultSaveInvVariance");
    SyncStream(handle);
    double a = Scalar(alpha, g.type), b = Scalar(beta, g.type);
    if (g.type == CUDNN_DATA_FLOAT)
        ForwardTraining<float>(g, a, b, x, y, bnScale, bnBias, exponentialAverageFactor, resultRunningMean, resultRunningVariance, epsilon,
            resultSaveMean, resultSaveInvVariance);
    else
        ForwardTraining<double>(g, a, b, x, y, bnScale, bnBias, exponentialAverageFactor, resultRunningMean, resultRunningVariance, epsilon,
            resultSaveMean, resultSaveInvVariance);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha,
    const void* beta, const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale, const void* bnBias, const void* estimatedMean,
    const void* estimatedVariance, double epsilon)
{
    const char* call = "cudnnBatchNormalizationForwardInference";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    BnGeometry g;
    cudnnStatus_t status = Validate(call, mode, xDesc, yDesc, bnScaleBiasMeanVarDesc, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (alpha == nullptr || beta == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: alpha and beta must point to host scalars", call);
    if (x == nullptr || y == nullptr || bnScale == nullptr || bnBias == nullptr || estimatedMean == nullptr || estimatedVariance == nullptr)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x, y, bnScale, bnBias, estimatedMean and estimatedVariance must not be NULL", call);
    if (!(epsilon >= CUDNN_BN_MIN_EPSILON)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: epsilon = %g < CUDNN_BN_MIN_EPSILON", call, epsilon);
    size_t pBytes = TensorBytes(*bnScaleBiasMeanVarDesc);
    if (!InDevice(x, TensorBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(y, TensorBytes(*yDesc), call)) return FailRange(call, "y");
    if (!InDevice(bnScale, pBytes, call)) return FailRange(call, "bnScale");
    if (!InDevice(bnBias, pBytes, call)) return FailRange(call, "bnBias");
    if (!InDevice(estimatedMean, pBytes, call)) return FailRange(call, "estimatedMean");
    if (!InDevice(estimatedVariance, pBytes, call)) return FailRange(call, "estimatedVariance");
    SyncStream(handle);
    double a = Scalar(alpha, g.type), b = Scalar(beta, g.type);
    if (g.type == CUDNN_DATA_FLOAT) ForwardInference<float>(g, a, b, x, y, bnScale, bnBias, estimatedMean, estimatedVariance, epsilon);
    else ForwardInference<double>(g, a, b, x, y, bnScale, bnBias, estimatedMean, estimatedVariance, epsilon);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaDataDiff,
    const void* betaDataDiff, const void* alphaParamDiff, const void* betaParamDiff, const cudnnTensorDescriptor_t xDesc,
    const void* x, const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScale, void* dBnScaleResult, void* dBnBiasResult,
    double epsilon, const void* savedMean, const void* savedInvVariance)
{
    const char* call = "cudnnBatchNormalizationBackward";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    BnGeometry g, gd;
    cudnnStatus_t status = Validate(call, mode, xDesc, dyDesc, dBnScaleBiasDesc, g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    status = Validate(call, mode, xDesc, dxDesc, dBnScaleBiasDesc, gd);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (alphaDataDiff == nullptr || betaDataDiff == nullptr || alphaParamDiff == nullptr || betaParamDiff == nullptr)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: the four scaling factors must point to host scalars", call);
    if (x == nullptr || dy == nullptr || dx == nullptr || bnScale == nullptr || dBnScaleResult == nullptr || dBnBiasResult == nullptr)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x, dy, dx, bnScale, dBnScaleResult and dBnBiasResult must not be NULL", call);
    if ((savedMean == nullptr) != (savedInvVariance == nullptr))
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: savedMean and savedInvVariance must both be NULL or both be set", call);
    if (!(epsilon >= CUDNN_BN_MIN_EPSILON)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: epsilon = %g < CUDNN_BN_MIN_EPSILON", call, epsilon);
    size_t pBytes = TensorBytes(*dBnScaleBiasDesc);
    if (!InDevice(x, TensorBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(dy, TensorBytes(*dyDesc), call)) return FailRange(call, "dy");
    if (!InDevice(dx, TensorBytes(*dxDesc), call)) return FailRange(call, "dx");
    if (!InDevice(bnScale, pBytes, call)) return FailRange(call, "bnScale");
    if (!InDevice(dBnScaleResult, pBytes, call)) return FailRange(call, "dBnScaleResult");
    if (!InDevice(dBnBiasResult, pBytes, call)) return FailRange(call, "dBnBiasResult");
    if (savedMean != nullptr && !InDevice(savedMean, pBytes, call)) return FailRange(call, "savedMean");
    if (savedInvVariance != nullptr && !InDevice(savedInvVariance, pBytes, call)) return FailRange(call, "savedInvVariance");
    SyncStream(handle);
    cudnnDataType_t t = g.type;
    double ad = Scalar(alphaDataDiff, t), bd = Scalar(betaDataDiff, t), ap = Scalar(alphaParamDiff, t), bp = Scalar(betaParamDiff, t);
    if (t == CUDNN_DATA_FLOAT)
        Backward<float>(g, gd, ad, bd, ap, bp, x, dy, dx, bnScale, dBnScaleResult, dBnBiasResult, epsilon, savedMean, savedInvVariance);
    else
        Backward<double>(g, gd, ad, bd, ap, bp, x, dy, dx, bnScale, dBnScaleResult, dBnBiasResult, epsilon, savedMean, savedInvVariance);
    return CUDNN_STATUS_SUCCESS;
}

} // extern "C"
