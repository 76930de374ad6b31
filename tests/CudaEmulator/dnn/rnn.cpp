// Emulated cuDNN RNN (v8 API): RELU/TANH, LSTM and GRU cells with cuDNN's documented equations, gate
// order (linLayerID) and bias modes; uni- or bidirectional, several layers, variable sequence lengths
// in the three data layouts. Weights are addressed only through cudnnGetRNNWeightParams, as in cuDNN.
// Not emulated (NOT_SUPPORTED): projection (projSize < hiddenSize), CUDNN_SKIP_INPUT, dropout > 0.
//
// Weight space, per pseudo-layer (layer·dirs + dir): the matrices of linLayerID 0.. (row-major
// hidden × in for input IDs, hidden × hidden for recurrent IDs), then the biases that the bias mode keeps.
// Reserve space: a header (so a backward pass without its forward training pass is an error), then per
// pseudo-layer and (t, b): activated gates, c, h, GRU's recurrent term, and the gate gradients that
// backward-data leaves for backward-weights (as cuDNN does).
#include <cmath>
#include <cstring>

#include "dnn_common.h"

struct cudnnRNNStruct
{
    bool set = false;
    cudnnRNNAlgo_t algo = CUDNN_RNN_ALGO_STANDARD;
    cudnnRNNMode_t mode = CUDNN_LSTM;
    cudnnRNNBiasMode_t biasMode = CUDNN_RNN_DOUBLE_BIAS;
    int dirs = 1;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int inputSize = 0, hidden = 0, layers = 0;
    uint32_t auxFlags = 0;
};

struct cudnnRNNDataStruct
{
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    cudnnRNNDataLayout_t layout = CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED;
    int maxSeq = 0, batch = 0, vector = 0;
    std::vector<int> lengths;
    bool hasFill = false;
    double fill = 0;
};

using namespace dnn;

namespace
{
const uint64_t kReserveMagic = 0x4e4e454d55524e4eull; // "NNEMURNN"

struct ReserveHeader
{
    uint64_t magic;
    uint64_t config;
    int stage; // 1 after forward training, 2 after backward data
    int pad;
};

int Gates(cudnnRNNMode_t mode) { return mode == CUDNN_LSTM ? 4 : mode == CUDNN_GRU ? 3 : 1; }

struct Rnn
{
    const cudnnRNNStruct* d;
    int G, H, L, D, T, B;
    const cudnnRNNDataStruct* x;

    int InSize(int layer) const { return layer == 0 ? d->inputSize : H * D; }
    bool HasInputBias() const { return d->biasMode == CUDNN_RNN_DOUBLE_BIAS || d->biasMode == CUDNN_RNN_SINGLE_INP_BIAS; }
    bool HasRecBias() const { return d->biasMode == CUDNN_RNN_DOUBLE_BIAS || d->biasMode == CUDNN_RNN_SINGLE_REC_BIAS; }
    // Elements of pseudo-layer p's block in the weight space, and the offsets of its matrices and biases.
    size_t LayerElements(int layer) const
    {
        size_t m = (size_t)G * H * InSize(layer) + (size_t)G * H * H;
        size_t b = (size_t)(HasInputBias() ? G * H : 0) + (HasRecBias() ? G * H : 0);
        return m + b;
    }
    size_t LayerStart(int p) const
    {
        size_t s = 0;
        for (int q = 0; q < p; q++) s += LayerElements(q / D);
        return s;
    }
    size_t WeightElements() const { return LayerStart(L * D); }
    // Matrix of gate g, input (rec = false) or recurrent; row-major H × cols.
    size_t Matrix(int p, int g, bool rec) const
    {
        int in = InSize(p / D);
        size_t s = LayerStart(p);
        return rec ? s + (size_t)G * H * in + (size_t)g * H * H : s + (size_t)g * H * in;
    }
    // Bias of gate g, or SIZE_MAX when the bias mode has none.
    size_t Bias(int p, int g, bool rec) const
    {
        size_t s = LayerStart(p) + (size_t)G * H * InSize(p / D) + (size_t)G * H * H;
        if (!rec) return HasInputBias() ? s + (size_t)g * H : SIZE_MAX;
        if (!HasRecBias()) return SIZE_MAX;
        return s + (HasInputBias() ? (size_t)G * H : 0) + (size_t)g * H;
    }
    // Reserve space: per pseudo-layer and (t, b) a record of doubles.
    size_t Record() const { return (size_t)G * H * 2 + 4 * (size_t)H; }
    size_t ActOff() const { return 0; }
    size_t COff() const { return (size_t)G * H; }
    size_t HOff() const { return (size_t)G * H + H; }
    size_t RhOff() const { return (size_t)G * H + 2 * (size_t)H; }
    size_t DpreOff() const { return (size_t)G * H + 3 * (size_t)H; }
    size_t DrhOff() const { return (size_t)G * H * 2 + 3 * (size_t)H; }
    size_t ReserveBytes() const { return sizeof(ReserveHeader) + (size_t)L * D * T * B * Record() * sizeof(double); }
    double* Rec(void* reserve, int p, int t, int b) const
    {
        return (double*)((char*)reserve + sizeof(ReserveHeader)) + (((size_t)p * T + t) * B + b) * Record();
    }
    uint64_t Config() const
    {
        uint64_t h = 1469598103934665603ull;
        int values[] = {(int)d->mode, (int)d->biasMode, D, d->inputSize, H, L, T, B, (int)d->type};
        for (int v : values) h = (h ^ (uint64_t)(uint32_t)v) * 1099511628211ull;
        for (int len : x->lengths) h = (h ^ (uint64_t)(uint32_t)len) * 1099511628211ull;
        return h;
    }
};

// Element offset of vector (t, b) in RNN data of the given layout (t < lengths[b]).
long long DataOffset(const cudnnRNNDataStruct& r, int t, int b)
{
    switch (r.layout)
    {
    case CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED: return ((long long)t * r.batch + b) * r.vector;
    case CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED: return ((long long)b * r.maxSeq + t) * r.vector;
    default:
    {
        long long before = 0;
        for (int s = 0; s < t; s++)
            for (int len : r.lengths) before += len > s ? 1 : 0;
        return (before + b) * r.vector;
    }
    }
}

size_t DataBytes(const cudnnRNNDataStruct& r)
{
    size_t elements;
    if (r.layout == CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED)
    {
        elements = 0;
        for (int len : r.lengths) elements += (size_t)len;
    }
    else elements = (size_t)r.maxSeq * r.batch;
    return elements * r.vector * ElementSize(r.type);
}

double Sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

cudnnStatus_t CheckRnn(const char* call, const cudnnRNNStruct* d)
{
    if (d == nullptr || !d->set) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: RNN descriptor %p is NULL or was never set", call, (const void*)d);
    return CUDNN_STATUS_SUCCESS;
}

// The checks shared by forward and both backward passes: descriptors agree with the RNN and each other.
cudnnStatus_t Validate(const char* call, cudnnHandle_t handle, const cudnnRNNStruct* d, const int32_t* devSeqLengths,
    const cudnnRNNDataStruct* x, const cudnnRNNDataStruct* y, const cudnnTensorStruct* hDesc, const cudnnTensorStruct* cDesc,
    size_t weightBytes, const void* weights, size_t workBytes, const void* work, size_t reserveBytes, const void* reserve, bool needReserve,
    Rnn& r)
{
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    cudnnStatus_t s = CheckRnn(call, d);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (x == nullptr || !x->set || y == nullptr || !y->set)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: xDesc or yDesc is NULL or was never set", call);
    r = Rnn{d, Gates(d->mode), d->hidden, d->layers, d->dirs, x->maxSeq, x->batch, x};
    if (x->type != d->type || y->type != d->type)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: data types of x (%s) and y (%s) differ from the RNN's %s", call, TypeName(x->type),
            TypeName(y->type), TypeName(d->type));
    if (x->vector != d->inputSize) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x vectorSize %d != inputSize %d", call, x->vector, d->inputSize);
    if (y->vector != r.H * r.D)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: y vectorSize %d != hiddenSize × directions = %d", call, y->vector, r.H * r.D);
    if (y->maxSeq != x->maxSeq || y->batch != x->batch || y->layout != x->layout || y->lengths != x->lengths)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: yDesc's layout, maxSeqLength, batchSize or sequence lengths differ from xDesc's", call);
    bool padded = (d->auxFlags & CUDNN_RNN_PADDED_IO_ENABLED) != 0;
    if (x->layout != CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED && !padded)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: an unpacked data layout needs CUDNN_RNN_PADDED_IO_ENABLED in the RNN descriptor's auxFlags", call);
    if (devSeqLengths == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: devSeqLengths is NULL", call);
    if (!InDevice(devSeqLengths, sizeof(int32_t) * (size_t)r.B, call)) return FailRange(call, "devSeqLengths");
    for (int b = 0; b < r.B; b++)
        if (devSeqLengths[b] != x->lengths[(size_t)b])
            return Fail(CUDNN_STATUS_BAD_PARAM, "%s: devSeqLengths[%d] = %d differs from xDesc's seqLengthArray[%d] = %d", call, b,
                devSeqLengths[b], b, x->lengths[(size_t)b]);
    for (const cudnnTensorStruct* t : {hDesc, cDesc})
    {
        if (t == cDesc && d->mode != CUDNN_LSTM) continue;
        if (t == nullptr || !t->set) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: %s is NULL or was never set", call, t == hDesc ? "hDesc" : "cDesc");
        if (t->nbDims != 3 || t->dims[0] != r.L * r.D || t->dims[1] != r.B || t->dims[2] != r.H || t->type != d->type)
            return Fail(CUDNN_STATUS_BAD_PARAM, "%s: %s %s, expected %s[%d,%d,%d] (layers × directions, batch, hidden)", call,
                t == hDesc ? "hDesc" : "cDesc", Describe(*t).c_str(), TypeName(d->type), r.L * r.D, r.B, r.H);
    }
    size_t needWeights = r.WeightElements() * ElementSize(d->type);
    if (weightBytes < needWeights)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: weightSpaceSize = %zu < %zu (cudnnGetRNNWeightSpaceSize)", call, weightBytes, needWeights);
    if (weights == nullptr || !InDevice(weights, needWeights, call)) return FailRange(call, "weightSpace");
    size_t needWork = (size_t)r.B * r.G * r.H * sizeof(double);
    if (workBytes < needWork)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: workSpaceSize = %zu < %zu (cudnnGetRNNTempSpaceSizes)", call, workBytes, needWork);
    if (work == nullptr || !InDevice(work, workBytes, call)) return FailRange(call, "workSpace");
    if (needReserve)
    {
        if (reserveBytes < r.ReserveBytes())
            return Fail(CUDNN_STATUS_BAD_PARAM, "%s: reserveSpaceSize = %zu < %zu (cudnnGetRNNTempSpaceSizes, training)", call, reserveBytes,
                r.ReserveBytes());
        if (reserve == nullptr || !InDevice(reserve, r.ReserveBytes(), call)) return FailRange(call, "reserveSpace");
    }
    return CUDNN_STATUS_SUCCESS;
}

struct State
{
    const cudnnTensorStruct* desc;
    const void* ptr;
};

template <typename T> double StateAt(const State& s, int p, int b, int k)
{
    if (s.ptr == nullptr) return 0;
    return Load<T>(s.ptr, (long long)p * s.desc->strides[0] + (long long)b * s.desc->strides[1] + (long long)k * s.desc->strides[2]);
}

template <typename T> void StateStore(const cudnnTensorStruct* desc, void* ptr, int p, int b, int k, double v)
{
    if (ptr != nullptr) Store<T>(ptr, (long long)p * desc->strides[0] + (long long)b * desc->strides[1] + (long long)k * desc->strides[2], v);
}

// The input vector of layer `layer` at (t, b): x, or both directions' h of the layer below.
template <typename T> void LayerInput(const Rnn& r, int layer, const void* x, void* reserve, int t, int b, std::vector<double>& in)
{
    in.assign((size_t)r.InSize(layer), 0.0);
    if (layer == 0)
    {
        long long o = DataOffset(*r.x, t, b);
        for (int i = 0; i < r.d->inputSize; i++) in[(size_t)i] = Load<T>(x, o + i);
        return;
    }
    for (int dir = 0; dir < r.D; dir++)
    {
        const double* rec = r.Rec(reserve, (layer - 1) * r.D + dir, t, b);
        for (int k = 0; k < r.H; k++) in[(size_t)dir * r.H + k] = rec[r.HOff() + k];
    }
}

template <typename T>
void Forward(const Rnn& r, const void* x, void* y, const cudnnRNNDataStruct* yDesc, State hx, State cx, const cudnnTensorStruct* hDesc,
    void* hy, const cudnnTensorStruct* cDesc, void* cy, const void* w, void* reserve)
{
    const int G = r.G, H = r.H;
    std::vector<double> in, hPrev((size_t)H), cPrev((size_t)H), pre((size_t)G * H);
    for (int layer = 0; layer < r.L; layer++)
        for (int dir = 0; dir < r.D; dir++)
        {
            int p = layer * r.D + dir, inSize = r.InSize(layer);
            for (int b = 0; b < r.B; b++)
            {
                int len = r.x->lengths[(size_t)b];
                for (int k = 0; k < H; k++)
                {
                    hPrev[(size_t)k] = StateAt<T>(hx, p, b, k);
                    cPrev[(size_t)k] = StateAt<T>(cx, p, b, k);
                }
                for (int step = 0; step < len; step++)
                {
                    int t = dir == 0 ? step : len - 1 - step;
                    LayerInput<T>(r, layer, x, reserve, t, b, in);
                    double* rec = r.Rec(reserve, p, t, b);
                    for (int g = 0; g < G; g++)
                        for (int k = 0; k < H; k++)
                        {
                            size_t wi = r.Matrix(p, g, false) + (size_t)k * inSize, ri = r.Matrix(p, g, true) + (size_t)k * H;
                            double sx = 0, sh = 0;
                            for (int i = 0; i < inSize; i++) sx += Load<T>(w, (long long)(wi + i)) * in[(size_t)i];
                            for (int j = 0; j < H; j++) sh += Load<T>(w, (long long)(ri + j)) * hPrev[(size_t)j];
                            size_t bw = r.Bias(p, g, false), br = r.Bias(p, g, true);
                            if (bw != SIZE_MAX) sx += Load<T>(w, (long long)(bw + k));
                            if (br != SIZE_MAX) sh += Load<T>(w, (long long)(br + k));
                            if (r.d->mode == CUDNN_GRU && g == 2)
                            {
                                rec[r.RhOff() + k] = sh; // h' = tanh(W_h x + b_Wh + r ∘ (R_h h + b_Rh)): r applies after R_h
                                pre[(size_t)g * H + k] = sx;
                            }
                            else pre[(size_t)g * H + k] = sx + sh;
                        }
                    for (int k = 0; k < H; k++)
                    {
                        double* act = rec + r.ActOff();
                        double h, c = 0;
                        switch (r.d->mode)
                        {
                        case CUDNN_RNN_RELU: h = act[k] = pre[(size_t)k] > 0 ? pre[(size_t)k] : 0; break;
                        case CUDNN_RNN_TANH: h = act[k] = std::tanh(pre[(size_t)k]); break;
                        case CUDNN_LSTM:
                        {
                            double i = Sigmoid(pre[(size_t)k]), f = Sigmoid(pre[(size_t)H + k]), g = std::tanh(pre[(size_t)2 * H + k]),
                                   o = Sigmoid(pre[(size_t)3 * H + k]);
                            act[k] = i;
                            act[H + k] = f;
                            act[2 * H + k] = g;
                            act[3 * H + k] = o;
                            c = f * cPrev[(size_t)k] + i * g;
                            h = o * std::tanh(c);
                            break;
                        }
                        default:
                        {
                            double rg = Sigmoid(pre[(size_t)k]), z = Sigmoid(pre[(size_t)H + k]);
                            double hh = std::tanh(pre[(size_t)2 * H + k] + rg * rec[r.RhOff() + k]);
                            act[k] = rg;
                            act[H + k] = z;
                            act[2 * H + k] = hh;
                            h = (1 - z) * hh + z * hPrev[(size_t)k];
                            break;
                        }
                        }
                        rec[r.COff() + k] = c;
                        rec[r.HOff() + k] = h;
                    }
                    for (int k = 0; k < H; k++)
                    {
                        hPrev[(size_t)k] = rec[r.HOff() + k];
                        cPrev[(size_t)k] = rec[r.COff() + k];
                    }
                }
                for (int k = 0; k < H; k++)
                {
                    StateStore<T>(hDesc, hy, p, b, k, hPrev[(size_t)k]);
                    if (r.d->mode == CUDNN_LSTM) StateStore<T>(cDesc, cy, p, b, k, cPrev[(size_t)k]);
                }
            }
        }
    // y: the top layer's h of both directions; padding gets paddingFill, or NaN where cuDNN leaves it undefined.
    int top = r.L - 1;
    bool unpacked = yDesc->layout != CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED;
    for (int b = 0; b < r.B; b++)
        for (int t = 0; t < (unpacked ? r.T : r.x->lengths[(size_t)b]); t++)
        {
            long long o = DataOffset(*yDesc, t, b);
            bool valid = t < r.x->lengths[(size_t)b];
            for (int dir = 0; dir < r.D; dir++)
                for (int k = 0; k < r.H; k++)
                    Store<T>(y, o + dir * r.H + k,
                        valid ? r.Rec(reserve, top * r.D + dir, t, b)[r.HOff() + k] : yDesc->hasFill ? yDesc->fill : NAN);
        }
}

// Gradients of the gate pre-activations (left in the reserve for backward-weights), dx, dhx, dcx.
template <typename T>
void BackwardData(const Rnn& r, const cudnnRNNDataStruct* yDesc, const void* dy, const cudnnRNNDataStruct* xDesc, void* dx, State hx, State cx, State dhy, State dcy,
    const cudnnTensorStruct* hDesc, void* dhx, const cudnnTensorStruct* cDesc, void* dcx, const void* w, void* reserve)
{
    const int G = r.G, H = r.H;
    // dOut[t][b][dir·H + k]: gradient of the loss with respect to the current layer's output h.
    std::vector<double> dOut((size_t)r.T * r.B * H * r.D, 0.0), dBelow;
    for (int b = 0; b < r.B; b++)
        for (int t = 0; t < r.x->lengths[(size_t)b]; t++)
        {
            long long o = DataOffset(*yDesc, t, b);
            for (int j = 0; j < H * r.D; j++) dOut[((size_t)t * r.B + b) * H * r.D + j] = Load<T>(dy, o + j);
        }
    std::vector<double> dh((size_t)H), dc((size_t)H), dhPrev((size_t)H), dcPrev((size_t)H), hPrev((size_t)H), cPrev((size_t)H);
    for (int layer = r.L - 1; layer >= 0; layer--)
    {
        int inSize = r.InSize(layer);
        dBelow.assign((size_t)r.T * r.B * inSize, 0.0);
        for (int dir = 0; dir < r.D; dir++)
        {
            int p = layer * r.D + dir;
            for (int b = 0; b < r.B; b++)
            {
                int len = r.x->lengths[(size_t)b];
                for (int k = 0; k < H; k++)
                {
                    dhPrev[(size_t)k] = StateAt<T>(dhy, p, b, k);
                    dcPrev[(size_t)k] = r.d->mode == CUDNN_LSTM ? StateAt<T>(dcy, p, b, k) : 0;
                }
                for (int step = len - 1; step >= 0; step--)
                {
                    int t = dir == 0 ? step : len - 1 - step;
                    int tPrev = dir == 0 ? t - 1 : t + 1;
                    bool first = step == 0;
                    double* rec = r.Rec(reserve, p, t, b);
                    for (int k = 0; k < H; k++)
                    {
                        hPrev[(size_t)k] = first ? StateAt<T>(hx, p, b, k) : r.Rec(reserve, p, tPrev, b)[r.HOff() + k];
                        cPrev[(size_t)k] = first ? StateAt<T>(cx, p, b, k) : r.Rec(reserve, p, tPrev, b)[r.COff() + k];
                        dh[(size_t)k] = dOut[((size_t)t * r.B + b) * H * r.D + (size_t)dir * H + k] + dhPrev[(size_t)k];
                    }
                    double* act = rec + r.ActOff();
                    double* dpre = rec + r.DpreOff();
                    double* drh = rec + r.DrhOff();
                    std::vector<double> direct((size_t)H, 0.0);
                    for (int k = 0; k < H; k++)
                    {
                        switch (r.d->mode)
                        {
                        case CUDNN_RNN_RELU: dpre[k] = act[k] > 0 ? dh[(size_t)k] : 0; break;
                        case CUDNN_RNN_TANH: dpre[k] = dh[(size_t)k] * (1 - act[k] * act[k]); break;
                        case CUDNN_LSTM:
                        {
                            double i = act[k], f = act[H + k], g = act[2 * H + k], o = act[3 * H + k], tc = std::tanh(rec[r.COff() + k]);
                            double dcv = dcPrev[(size_t)k] + dh[(size_t)k] * o * (1 - tc * tc);
                            dpre[k] = dcv * g * i * (1 - i);
                            dpre[H + k] = dcv * cPrev[(size_t)k] * f * (1 - f);
                            dpre[2 * H + k] = dcv * i * (1 - g * g);
                            dpre[3 * H + k] = dh[(size_t)k] * tc * o * (1 - o);
                            dc[(size_t)k] = dcv * f;
                            break;
                        }
                        default:
                        {
                            double rg = act[k], z = act[H + k], hh = act[2 * H + k];
                            double dhh = dh[(size_t)k] * (1 - z) * (1 - hh * hh);
                            dpre[2 * H + k] = dhh;
                            drh[k] = dhh * rg;
                            dpre[k] = dhh * rec[r.RhOff() + k] * rg * (1 - rg);
                            dpre[H + k] = dh[(size_t)k] * (hPrev[(size_t)k] - hh) * z * (1 - z);
                            direct[(size_t)k] = dh[(size_t)k] * z;
                            break;
                        }
                        }
                    }
                    // dh_prev = Σ_g R_gᵀ·dpre_g (GRU: R_hᵀ·drh for the new-memory gate, plus z·dh); dIn = Σ_g W_gᵀ·dpre_g.
                    for (int j = 0; j < H; j++)
                    {
                        double s = direct[(size_t)j];
                        for (int g = 0; g < G; g++)
                        {
                            const double* d = (r.d->mode == CUDNN_GRU && g == 2) ? drh : dpre + (size_t)g * H;
                            size_t ri = r.Matrix(p, g, true);
                            for (int k = 0; k < H; k++) s += Load<T>(w, (long long)(ri + (size_t)k * H + j)) * d[k];
                        }
                        dhPrev[(size_t)j] = s;
                    }
                    if (r.d->mode == CUDNN_LSTM) dcPrev = dc;
                    double* dIn = dBelow.data() + ((size_t)t * r.B + b) * inSize;
                    for (int g = 0; g < G; g++)
                    {
                        size_t wi = r.Matrix(p, g, false);
                        for (int k = 0; k < H; k++)
                        {
                            double d = dpre[(size_t)g * H + k];
                            for (int i = 0; i < inSize; i++) dIn[i] += Load<T>(w, (long long)(wi + (size_t)k * inSize + i)) * d;
                        }
                    }
                }
                for (int k = 0; k < H; k++)
                {
                    StateStore<T>(hDesc, dhx, p, b, k, dhPrev[(size_t)k]);
                    if (r.d->mode == CUDNN_LSTM) StateStore<T>(cDesc, dcx, p, b, k, dcPrev[(size_t)k]);
                }
            }
        }
        if (layer > 0) dOut.swap(dBelow);
    }
    bool unpacked = xDesc->layout != CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED;
    for (int b = 0; b < r.B; b++)
        for (int t = 0; t < (unpacked ? r.T : r.x->lengths[(size_t)b]); t++)
        {
            long long o = DataOffset(*xDesc, t, b);
            bool valid = t < r.x->lengths[(size_t)b];
            for (int i = 0; i < r.d->inputSize; i++)
                Store<T>(dx, o + i, valid ? dBelow[((size_t)t * r.B + b) * r.d->inputSize + i] : xDesc->hasFill ? xDesc->fill : NAN);
        }
}

template <typename T>
void BackwardWeights(const Rnn& r, bool add, const void* x, State hx, void* dw, void* reserve)
{
    const int G = r.G, H = r.H;
    size_t total = r.WeightElements();
    std::vector<double> acc(total, 0.0), in, hPrev((size_t)H);
    for (int p = 0; p < r.L * r.D; p++)
    {
        int layer = p / r.D, dir = p % r.D, inSize = r.InSize(layer);
        for (int b = 0; b < r.B; b++)
        {
            int len = r.x->lengths[(size_t)b];
            for (int step = 0; step < len; step++)
            {
                int t = dir == 0 ? step : len - 1 - step;
                int tPrev = dir == 0 ? t - 1 : t + 1;
                for (int k = 0; k < H; k++)
                    hPrev[(size_t)k] = step == 0 ? StateAt<T>(hx, p, b, k) : r.Rec(reserve, p, tPrev, b)[r.HOff() + k];
                LayerInput<T>(r, layer, x, reserve, t, b, in);
                const double* rec = r.Rec(reserve, p, t, b);
                const double* dpre = rec + r.DpreOff();
                for (int g = 0; g < G; g++)
                {
                    const double* dr = (r.d->mode == CUDNN_GRU && g == 2) ? rec + r.DrhOff() : dpre + (size_t)g * H;
                    size_t wi = r.Matrix(p, g, false), ri = r.Matrix(p, g, true), bw = r.Bias(p, g, false), br = r.Bias(p, g, true);
                    for (int k = 0; k < H; k++)
                    {
                        double d = dpre[(size_t)g * H + k];
                        for (int i = 0; i < inSize; i++) acc[wi + (size_t)k * inSize + i] += d * in[(size_t)i];
                        for (int j = 0; j < H; j++) acc[ri + (size_t)k * H + j] += dr[k] * hPrev[(size_t)j];
                        if (bw != SIZE_MAX) acc[bw + k] += d;
                        if (br != SIZE_MAX) acc[br + k] += dr[k];
                    }
                }
            }
        }
    }
    for (size_t i = 0; i < total; i++) Store<T>(dw, (long long)i, acc[i] + (add ? Load<T>(dw, (long long)i) : 0.0));
}

ReserveHeader* Header(void* reserve) { return (ReserveHeader*)reserve; }
} // namespace

extern "C" {

cudnnStatus_t cudnnCreateRNNDescriptor(cudnnRNNDescriptor_t* rnnDesc)
{
    if (rnnDesc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateRNNDescriptor: rnnDesc is NULL");
    *rnnDesc = new cudnnRNNStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyRNNDescriptor(cudnnRNNDescriptor_t rnnDesc)
{
    delete rnnDesc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetRNNDescriptor_v8(cudnnRNNDescriptor_t rnnDesc, cudnnRNNAlgo_t algo, cudnnRNNMode_t cellMode,
    cudnnRNNBiasMode_t biasMode, cudnnDirectionMode_t dirMode, cudnnRNNInputMode_t inputMode, cudnnDataType_t dataType,
    cudnnDataType_t mathPrec, cudnnMathType_t mathType, int32_t inputSize, int32_t hiddenSize, int32_t projSize,
    int32_t numLayers, cudnnDropoutDescriptor_t dropoutDesc, uint32_t auxFlags)
{
    const char* call = "cudnnSetRNNDescriptor_v8";
    if (rnnDesc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: rnnDesc is NULL", call);
    if ((int)algo < 0 || (int)algo > 3) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: algo = %d is not a cudnnRNNAlgo_t", call, (int)algo);
    if ((int)cellMode < 0 || (int)cellMode > 3) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: cellMode = %d is not a cudnnRNNMode_t", call, (int)cellMode);
    if ((int)biasMode < 0 || (int)biasMode > 3) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: biasMode = %d is not a cudnnRNNBiasMode_t", call, (int)biasMode);
    if (dirMode != CUDNN_UNIDIRECTIONAL && dirMode != CUDNN_BIDIRECTIONAL)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: dirMode = %d is not a cudnnDirectionMode_t", call, (int)dirMode);
    if (inputMode != CUDNN_LINEAR_INPUT && inputMode != CUDNN_SKIP_INPUT)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: inputMode = %d is not a cudnnRNNInputMode_t", call, (int)inputMode);
    if (inputMode == CUDNN_SKIP_INPUT) return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: CUDNN_SKIP_INPUT is not emulated", call);
    if (dataType != CUDNN_DATA_FLOAT && dataType != CUDNN_DATA_DOUBLE)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: dataType %s is not emulated (FLOAT or DOUBLE)", call, TypeName(dataType));
    if (mathPrec != dataType)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: mathPrec %s with %s data is not a supported configuration", call, TypeName(mathPrec),
            TypeName(dataType));
    if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH && mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION &&
        mathType != CUDNN_FMA_MATH)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: mathType = %d is not a cudnnMathType_t", call, (int)mathType);
    if (inputSize <= 0 || hiddenSize <= 0 || numLayers <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: inputSize = %d, hiddenSize = %d, numLayers = %d must be positive", call, inputSize, hiddenSize,
            numLayers);
    if (projSize != hiddenSize)
        return Fail(projSize > hiddenSize || projSize <= 0 ? CUDNN_STATUS_BAD_PARAM : CUDNN_STATUS_NOT_SUPPORTED,
            "%s: projSize = %d with hiddenSize = %d: only projSize == hiddenSize (no projection) is emulated", call, projSize, hiddenSize);
    if (dropoutDesc != nullptr && dropoutDesc->set && dropoutDesc->dropout > 0 && numLayers > 1)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: dropout %g between layers is not emulated", call, (double)dropoutDesc->dropout);
    if ((auxFlags & ~(uint32_t)CUDNN_RNN_PADDED_IO_ENABLED) != 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: auxFlags = 0x%x has unknown bits", call, auxFlags);
    rnnDesc->algo = algo;
    rnnDesc->mode = cellMode;
    rnnDesc->biasMode = biasMode;
    rnnDesc->dirs = dirMode == CUDNN_BIDIRECTIONAL ? 2 : 1;
    rnnDesc->type = dataType;
    rnnDesc->inputSize = inputSize;
    rnnDesc->hidden = hiddenSize;
    rnnDesc->layers = numLayers;
    rnnDesc->auxFlags = auxFlags;
    rnnDesc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateRNNDataDescriptor(cudnnRNNDataDescriptor_t* rnnDataDesc)
{
    if (rnnDataDesc == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateRNNDataDescriptor: rnnDataDesc is NULL");
    *rnnDataDesc = new cudnnRNNDataStruct();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyRNNDataDescriptor(cudnnRNNDataDescriptor_t rnnDataDesc)
{
    delete rnnDataDesc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetRNNDataDescriptor(cudnnRNNDataDescriptor_t rnnDataDesc, cudnnDataType_t dataType, cudnnRNNDataLayout_t layout,
    int maxSeqLength, int batchSize, int vectorSize, const int seqLengthArray[], void* paddingFill)
{
    const char* call = "cudnnSetRNNDataDescriptor";
    if (rnnDataDesc == nullptr || seqLengthArray == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: rnnDataDesc and seqLengthArray must not be NULL", call);
    if (dataType != CUDNN_DATA_FLOAT && dataType != CUDNN_DATA_DOUBLE)
        return Fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: dataType %s is not emulated (FLOAT or DOUBLE)", call, TypeName(dataType));
    if ((int)layout < 0 || (int)layout > 2) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: layout = %d is not a cudnnRNNDataLayout_t", call, (int)layout);
    if (maxSeqLength <= 0 || batchSize <= 0 || vectorSize <= 0)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: maxSeqLength = %d, batchSize = %d, vectorSize = %d must be positive", call, maxSeqLength, batchSize,
            vectorSize);
    for (int b = 0; b < batchSize; b++)
    {
        if (seqLengthArray[b] < 1 || seqLengthArray[b] > maxSeqLength)
            return Fail(CUDNN_STATUS_BAD_PARAM, "%s: seqLengthArray[%d] = %d is not in [1, maxSeqLength = %d]", call, b, seqLengthArray[b], maxSeqLength);
        if (layout == CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED && b > 0 && seqLengthArray[b] > seqLengthArray[b - 1])
            return Fail(CUDNN_STATUS_BAD_PARAM, "%s: the packed layout needs non-increasing lengths; seqLengthArray[%d] = %d > seqLengthArray[%d] = %d",
                call, b, seqLengthArray[b], b - 1, seqLengthArray[b - 1]);
    }
    rnnDataDesc->type = dataType;
    rnnDataDesc->layout = layout;
    rnnDataDesc->maxSeq = maxSeqLength;
    rnnDataDesc->batch = batchSize;
    rnnDataDesc->vector = vectorSize;
    rnnDataDesc->lengths.assign(seqLengthArray, seqLengthArray + batchSize);
    rnnDataDesc->hasFill = paddingFill != nullptr;
    rnnDataDesc->fill = paddingFill == nullptr ? 0 : Scalar(paddingFill, dataType);
    rnnDataDesc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNWeightSpaceSize(cudnnHandle_t handle, cudnnRNNDescriptor_t rnnDesc, size_t* weightSpaceSize)
{
    const char* call = "cudnnGetRNNWeightSpaceSize";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    cudnnStatus_t s = CheckRnn(call, rnnDesc);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (weightSpaceSize == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: weightSpaceSize is NULL", call);
    Rnn r{rnnDesc, Gates(rnnDesc->mode), rnnDesc->hidden, rnnDesc->layers, rnnDesc->dirs, 0, 0, nullptr};
    *weightSpaceSize = r.WeightElements() * ElementSize(rnnDesc->type);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNTempSpaceSizes(cudnnHandle_t handle, cudnnRNNDescriptor_t rnnDesc, cudnnForwardMode_t fwdMode,
    cudnnRNNDataDescriptor_t xDesc, size_t* workSpaceSize, size_t* reserveSpaceSize)
{
    const char* call = "cudnnGetRNNTempSpaceSizes";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    cudnnStatus_t s = CheckRnn(call, rnnDesc);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (xDesc == nullptr || !xDesc->set) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: xDesc is NULL or was never set", call);
    if (fwdMode != CUDNN_FWD_MODE_INFERENCE && fwdMode != CUDNN_FWD_MODE_TRAINING)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: fwdMode = %d is not a cudnnForwardMode_t", call, (int)fwdMode);
    Rnn r{rnnDesc, Gates(rnnDesc->mode), rnnDesc->hidden, rnnDesc->layers, rnnDesc->dirs, xDesc->maxSeq, xDesc->batch, xDesc};
    if (workSpaceSize) *workSpaceSize = (size_t)r.B * r.G * r.H * sizeof(double);
    // Inference needs no reserve (cudnnRNNForward keeps its per-step records in host scratch memory then).
    if (reserveSpaceSize) *reserveSpaceSize = fwdMode == CUDNN_FWD_MODE_TRAINING ? r.ReserveBytes() : 0;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNWeightParams(cudnnHandle_t handle, cudnnRNNDescriptor_t rnnDesc, int32_t pseudoLayer, size_t weightSpaceSize,
    const void* weightSpace, int32_t linLayerID, cudnnTensorDescriptor_t mDesc, void** mAddr, cudnnTensorDescriptor_t bDesc, void** bAddr)
{
    const char* call = "cudnnGetRNNWeightParams";
    if (!LiveHandle(handle)) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: handle %p is not live", call, (void*)handle);
    cudnnStatus_t s = CheckRnn(call, rnnDesc);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    Rnn r{rnnDesc, Gates(rnnDesc->mode), rnnDesc->hidden, rnnDesc->layers, rnnDesc->dirs, 0, 0, nullptr};
    if (pseudoLayer < 0 || pseudoLayer >= r.L * r.D)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: pseudoLayer = %d is not in [0, layers × directions = %d)", call, pseudoLayer, r.L * r.D);
    if (linLayerID < 0 || linLayerID >= 2 * r.G)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: linLayerID = %d is not in [0, %d) for this cell mode", call, linLayerID, 2 * r.G);
    size_t element = ElementSize(rnnDesc->type);
    if (weightSpaceSize < r.WeightElements() * element)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: weightSpaceSize = %zu < %zu (cudnnGetRNNWeightSpaceSize)", call, weightSpaceSize,
            r.WeightElements() * element);
    bool rec = linLayerID >= r.G;
    int g = linLayerID % r.G;
    int cols = rec ? r.H : r.InSize(pseudoLayer / r.D);
    const char* base = (const char*)weightSpace;
    if (mAddr != nullptr)
    {
        int dims[3] = {1, r.H, cols}, strides[3] = {r.H * cols, cols, 1};
        if (mDesc != nullptr)
        {
            s = cudnnSetTensorNdDescriptor(mDesc, rnnDesc->type, 3, dims, strides);
            if (s != CUDNN_STATUS_SUCCESS) return s;
        }
        *mAddr = (void*)(base + r.Matrix(pseudoLayer, g, rec) * element);
    }
    if (bAddr != nullptr)
    {
        size_t b = r.Bias(pseudoLayer, g, rec);
        *bAddr = b == SIZE_MAX ? nullptr : (void*)(base + b * element);
        if (b != SIZE_MAX && bDesc != nullptr)
        {
            int dims[3] = {1, r.H, 1}, strides[3] = {r.H, 1, 1};
            s = cudnnSetTensorNdDescriptor(bDesc, rnnDesc->type, 3, dims, strides);
            if (s != CUDNN_STATUS_SUCCESS) return s;
        }
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNForward(cudnnHandle_t handle, cudnnRNNDescriptor_t rnnDesc, cudnnForwardMode_t fwdMode, const int32_t devSeqLengths[],
    cudnnRNNDataDescriptor_t xDesc, const void* x, cudnnRNNDataDescriptor_t yDesc, void* y, cudnnTensorDescriptor_t hDesc,
    const void* hx, void* hy, cudnnTensorDescriptor_t cDesc, const void* cx, void* cy, size_t weightSpaceSize, const void* weightSpace,
    size_t workSpaceSize, void* workSpace, size_t reserveSpaceSize, void* reserveSpace)
{
    const char* call = "cudnnRNNForward";
    if (fwdMode != CUDNN_FWD_MODE_INFERENCE && fwdMode != CUDNN_FWD_MODE_TRAINING)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: fwdMode = %d is not a cudnnForwardMode_t", call, (int)fwdMode);
    bool training = fwdMode == CUDNN_FWD_MODE_TRAINING;
    Rnn r;
    cudnnStatus_t s = Validate(call, handle, rnnDesc, devSeqLengths, xDesc, yDesc, hDesc, cDesc, weightSpaceSize, weightSpace, workSpaceSize,
        workSpace, reserveSpaceSize, reserveSpace, training, r);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    bool lstm = rnnDesc->mode == CUDNN_LSTM;
    if (x == nullptr || y == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x or y is NULL", call);
    if (!InDevice(x, DataBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(y, DataBytes(*yDesc), call)) return FailRange(call, "y");
    size_t hBytes = TensorBytes(*hDesc);
    if (hx != nullptr && !InDevice(hx, hBytes, call)) return FailRange(call, "hx");
    if (hy != nullptr && !InDevice(hy, hBytes, call)) return FailRange(call, "hy");
    if (lstm && cx != nullptr && !InDevice(cx, TensorBytes(*cDesc), call)) return FailRange(call, "cx");
    if (lstm && cy != nullptr && !InDevice(cy, TensorBytes(*cDesc), call)) return FailRange(call, "cy");
    SyncStream(handle);
    // Inference needs the same per-step records; they live in host scratch memory instead of a reserve.
    std::vector<char> scratch;
    void* records = reserveSpace;
    if (!training)
    {
        scratch.resize(r.ReserveBytes());
        records = scratch.data();
    }
    State hxs{hDesc, hx}, cxs{lstm ? cDesc : nullptr, lstm ? cx : nullptr};
    if (rnnDesc->type == CUDNN_DATA_FLOAT)
        Forward<float>(r, x, y, yDesc, hxs, cxs, hDesc, hy, cDesc, lstm ? cy : nullptr, weightSpace, records);
    else
        Forward<double>(r, x, y, yDesc, hxs, cxs, hDesc, hy, cDesc, lstm ? cy : nullptr, weightSpace, records);
    std::memset(workSpace, 0xFF, (size_t)r.B * r.G * r.H * sizeof(double));
    if (training) *Header(reserveSpace) = ReserveHeader{kReserveMagic, r.Config(), 1, 0};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNBackwardData_v8(cudnnHandle_t handle, cudnnRNNDescriptor_t rnnDesc, const int32_t devSeqLengths[],
    cudnnRNNDataDescriptor_t yDesc, const void* y, const void* dy, cudnnRNNDataDescriptor_t xDesc, void* dx,
    cudnnTensorDescriptor_t hDesc, const void* hx, const void* dhy, void* dhx, cudnnTensorDescriptor_t cDesc, const void* cx,
    const void* dcy, void* dcx, size_t weightSpaceSize, const void* weightSpace, size_t workSpaceSize, void* workSpace,
    size_t reserveSpaceSize, void* reserveSpace)
{
    const char* call = "cudnnRNNBackwardData_v8";
    Rnn r;
    cudnnStatus_t s = Validate(call, handle, rnnDesc, devSeqLengths, xDesc, yDesc, hDesc, cDesc, weightSpaceSize, weightSpace, workSpaceSize,
        workSpace, reserveSpaceSize, reserveSpace, true, r);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    bool lstm = rnnDesc->mode == CUDNN_LSTM;
    if (y == nullptr || dy == nullptr || dx == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: y, dy or dx is NULL", call);
    if (!InDevice(y, DataBytes(*yDesc), call)) return FailRange(call, "y");
    if (!InDevice(dy, DataBytes(*yDesc), call)) return FailRange(call, "dy");
    if (!InDevice(dx, DataBytes(*xDesc), call)) return FailRange(call, "dx");
    size_t hBytes = TensorBytes(*hDesc);
    for (auto [p, name] : {std::pair<const void*, const char*>{hx, "hx"}, {dhy, "dhy"}, {dhx, "dhx"}})
        if (p != nullptr && !InDevice(p, hBytes, call)) return FailRange(call, name);
    if (lstm)
        for (auto [p, name] : {std::pair<const void*, const char*>{cx, "cx"}, {dcy, "dcy"}, {dcx, "dcx"}})
            if (p != nullptr && !InDevice(p, TensorBytes(*cDesc), call)) return FailRange(call, name);
    const ReserveHeader* header = Header(reserveSpace);
    if (header->magic != kReserveMagic || header->config != r.Config() || header->stage < 1)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: reserveSpace does not hold a cudnnRNNForward training pass of this RNN and these sequences", call);
    SyncStream(handle);
    State hxs{hDesc, hx}, cxs{cDesc, lstm ? cx : nullptr}, dhys{hDesc, dhy}, dcys{cDesc, lstm ? dcy : nullptr};
    if (rnnDesc->type == CUDNN_DATA_FLOAT)
        BackwardData<float>(r, yDesc, dy, xDesc, dx, hxs, cxs, dhys, dcys, hDesc, dhx, cDesc, lstm ? dcx : nullptr, weightSpace, reserveSpace);
    else
        BackwardData<double>(r, yDesc, dy, xDesc, dx, hxs, cxs, dhys, dcys, hDesc, dhx, cDesc, lstm ? dcx : nullptr, weightSpace, reserveSpace);
    std::memset(workSpace, 0xFF, (size_t)r.B * r.G * r.H * sizeof(double));
    Header(reserveSpace)->stage = 2;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNBackwardWeights_v8(cudnnHandle_t handle, cudnnRNNDescriptor_t rnnDesc, cudnnWgradMode_t addGrad,
    const int32_t devSeqLengths[], cudnnRNNDataDescriptor_t xDesc, const void* x, cudnnTensorDescriptor_t hDesc, const void* hx,
    cudnnRNNDataDescriptor_t yDesc, const void* y, size_t weightSpaceSize, void* dweightSpace, size_t workSpaceSize, void* workSpace,
    size_t reserveSpaceSize, void* reserveSpace)
{
    const char* call = "cudnnRNNBackwardWeights_v8";
    if (addGrad != CUDNN_WGRAD_MODE_ADD && addGrad != CUDNN_WGRAD_MODE_SET)
        return Fail(CUDNN_STATUS_BAD_PARAM, "%s: addGrad = %d is not a cudnnWgradMode_t", call, (int)addGrad);
    Rnn r;
    // The cell-state descriptor is not an argument here: validate hDesc in its place for LSTM too.
    cudnnStatus_t s = Validate(call, handle, rnnDesc, devSeqLengths, xDesc, yDesc, hDesc, hDesc, weightSpaceSize, dweightSpace, workSpaceSize,
        workSpace, reserveSpaceSize, reserveSpace, true, r);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (x == nullptr || y == nullptr) return Fail(CUDNN_STATUS_BAD_PARAM, "%s: x or y is NULL", call);
    if (!InDevice(x, DataBytes(*xDesc), call)) return FailRange(call, "x");
    if (!InDevice(y, DataBytes(*yDesc), call)) return FailRange(call, "y");
    if (hx != nullptr && !InDevice(hx, TensorBytes(*hDesc), call)) return FailRange(call, "hx");
    const ReserveHeader* header = Header(reserveSpace);
    if (header->magic != kReserveMagic || header->config != r.Config() || header->stage != 2)
        return Fail(CUDNN_STATUS_BAD_PARAM,
            "%s: reserveSpace does not hold a cudnnRNNBackwardData_v8 pass (after a training forward pass) of this RNN and these sequences", call);
    SyncStream(handle);
    State hxs{hDesc, hx};
    bool add = addGrad == CUDNN_WGRAD_MODE_ADD;
    if (rnnDesc->type == CUDNN_DATA_FLOAT) BackwardWeights<float>(r, add, x, hxs, dweightSpace, reserveSpace);
    else BackwardWeights<double>(r, add, x, hxs, dweightSpace, reserveSpace);
    return CUDNN_STATUS_SUCCESS;
}

} // extern "C"
