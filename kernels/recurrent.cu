// Fused recurrent cells, one thread per (batch row b, hidden unit j) of a step; every operand is contiguous, rows of
// gate tensors hold the gate blocks side by side (LSTM i, f, g, o; GRU r, z, n). The same formulas as the Simd backend:
// sigmoid(x) = 1/(1 + e^-x), tanh x = 2/(1 + e^-2x) - 1, both saturating without NaN for any finite x.
// The GEMMs around them go through cuBLAS; argument lists are documented per entry point.
#include "common.cuh"

__device__ __forceinline__ float nn_rexp(float x) { return expf(x); }
__device__ __forceinline__ double nn_rexp(double x) { return exp(x); }

template <typename T>
__device__ __forceinline__ T nn_rsigmoid(T x) { return T(1) / (T(1) + nn_rexp(-x)); }

__device__ __forceinline__ float nn_rtanh(float x) { return 2.0f / (1.0f + expf(-(x + x))) - 1.0f; }
__device__ __forceinline__ double nn_rtanh(double x) {
    double ax = fabs(x);
    double t = 1.0 - 2.0 / (exp(ax + ax) + 1.0);
    if (x < 0.0) t = -t;
    return ax < 1e-4 ? x : t;
}

// gates [N, 4H] = x*W_ih^T + h*W_hh^T; + bias [4H] (b_ih + b_hh, when hasBias) the pre-activations; -> activations in place;
// c = f*cPrev + i*g; h = o*tanh(c).
template <typename T>
__device__ __forceinline__ void lstm_cell_fwd(T* __restrict__ gates, const T* __restrict__ bias, i64 hasBias, const T* __restrict__ cPrev, T* __restrict__ c,
                                              T* __restrict__ h, i64 batch, i64 hidden) {
    NN_GRID_STRIDE(e, batch * hidden) {
        i64 b = e / hidden, j = e - b * hidden;
        T* g = gates + b * 4 * hidden + j;
        T bi = hasBias ? bias[j] : T(0), bf = hasBias ? bias[hidden + j] : T(0), bg = hasBias ? bias[2 * hidden + j] : T(0), bo = hasBias ? bias[3 * hidden + j] : T(0);
        T i = nn_rsigmoid(g[0] + bi), f = nn_rsigmoid(g[hidden] + bf), gg = nn_rtanh(g[2 * hidden] + bg), o = nn_rsigmoid(g[3 * hidden] + bo);
        g[0] = i; g[hidden] = f; g[2 * hidden] = gg; g[3 * hidden] = o;
        T cv = f * cPrev[e] + i * gg;
        c[e] = cv;
        h[e] = o * nn_rtanh(cv);
    }
}

// act [N, 4H] activations, cPrev/c [N, H]; dh = dL/dh_t; dc: dL/dc_t in, dL/dc_{t-1} out; dGates [N, 4H] out.
template <typename T>
__device__ __forceinline__ void lstm_cell_bwd(const T* __restrict__ act, const T* __restrict__ cPrev, const T* __restrict__ c, const T* __restrict__ dh,
                                              T* __restrict__ dc, T* __restrict__ dGates, i64 batch, i64 hidden) {
    NN_GRID_STRIDE(e, batch * hidden) {
        i64 b = e / hidden, j = e - b * hidden;
        const T* a = act + b * 4 * hidden + j;
        T* dg = dGates + b * 4 * hidden + j;
        T i = a[0], f = a[hidden], g = a[2 * hidden], o = a[3 * hidden];
        T tc = nn_rtanh(c[e]);
        T dhv = dh[e];
        T dcv = dc[e] + dhv * o * (T(1) - tc * tc);
        dg[0] = dcv * g * i * (T(1) - i);
        dg[hidden] = dcv * cPrev[e] * f * (T(1) - f);
        dg[2 * hidden] = dcv * i * (T(1) - g * g);
        dg[3 * hidden] = dhv * tc * o * (T(1) - o);
        dc[e] = dcv * f;
    }
}

// xGates [N, 3H] = x*W_ih^T -> (r, z, n); hGates [N, 3H] = h*W_hh^T, n block -> h*W_hn^T + b_hn; biases b_ih, b_hh [3H] when hasBias.
template <typename T>
__device__ __forceinline__ void gru_cell_fwd(T* __restrict__ xGates, T* __restrict__ hGates, const T* __restrict__ biasIh, const T* __restrict__ biasHh,
                                             i64 hasBias, const T* __restrict__ hPrev, T* __restrict__ h, i64 batch, i64 hidden) {
    NN_GRID_STRIDE(e, batch * hidden) {
        i64 b = e / hidden, j = e - b * hidden;
        T* x = xGates + b * 3 * hidden + j;
        T* hg = hGates + b * 3 * hidden + j;
        T ir = hasBias ? biasIh[j] : T(0), iz = hasBias ? biasIh[hidden + j] : T(0), in_ = hasBias ? biasIh[2 * hidden + j] : T(0);
        T hr = hasBias ? biasHh[j] : T(0), hz = hasBias ? biasHh[hidden + j] : T(0), hnb = hasBias ? biasHh[2 * hidden + j] : T(0);
        T r = nn_rsigmoid(x[0] + ir + hg[0] + hr);
        T z = nn_rsigmoid(x[hidden] + iz + hg[hidden] + hz);
        T hn = hg[2 * hidden] + hnb;
        T n = nn_rtanh(x[2 * hidden] + in_ + r * hn);
        x[0] = r; x[hidden] = z; x[2 * hidden] = n;
        hg[2 * hidden] = hn;
        h[e] = n + z * (hPrev[e] - n);
    }
}

// act (r, z, n), hGates (n block = h*W_hn^T + b_hn); dhPrev += dh*z; dXGates, dHGates [N, 3H] out.
template <typename T>
__device__ __forceinline__ void gru_cell_bwd(const T* __restrict__ act, const T* __restrict__ hGates, const T* __restrict__ hPrev, const T* __restrict__ dh,
                                             T* __restrict__ dhPrev, T* __restrict__ dXGates, T* __restrict__ dHGates, i64 batch, i64 hidden) {
    NN_GRID_STRIDE(e, batch * hidden) {
        i64 b = e / hidden, j = e - b * hidden;
        i64 w = b * 3 * hidden + j;
        T r = act[w], z = act[w + hidden], n = act[w + 2 * hidden], hn = hGates[w + 2 * hidden];
        T dhv = dh[e];
        T dn = dhv * (T(1) - z) * (T(1) - n * n);
        T dz = dhv * (hPrev[e] - n) * z * (T(1) - z);
        T dr = dn * hn * r * (T(1) - r);
        dXGates[w] = dr; dXGates[w + hidden] = dz; dXGates[w + 2 * hidden] = dn;
        dHGates[w] = dr; dHGates[w + hidden] = dz; dHGates[w + 2 * hidden] = dn * r;
        dhPrev[e] += dhv * z;
    }
}

#define NN_RECURRENT(T, sfx)                                                                                                         \
    extern "C" __global__ void lstm_cell_fwd_##sfx(T* gates, const T* bias, i64 hasBias, const T* cPrev, T* c, T* h, i64 batch, i64 hidden) { \
        lstm_cell_fwd<T>(gates, bias, hasBias, cPrev, c, h, batch, hidden);                                                          \
    }                                                                                                                                \
    extern "C" __global__ void lstm_cell_bwd_##sfx(const T* act, const T* cPrev, const T* c, const T* dh, T* dc, T* dGates, i64 batch, i64 hidden) { \
        lstm_cell_bwd<T>(act, cPrev, c, dh, dc, dGates, batch, hidden);                                                              \
    }                                                                                                                                \
    extern "C" __global__ void gru_cell_fwd_##sfx(T* xGates, T* hGates, const T* biasIh, const T* biasHh, i64 hasBias, const T* hPrev, T* h, i64 batch, i64 hidden) { \
        gru_cell_fwd<T>(xGates, hGates, biasIh, biasHh, hasBias, hPrev, h, batch, hidden);                                          \
    }                                                                                                                                \
    extern "C" __global__ void gru_cell_bwd_##sfx(const T* act, const T* hGates, const T* hPrev, const T* dh, T* dhPrev, T* dXGates, T* dHGates, i64 batch, i64 hidden) { \
        gru_cell_bwd<T>(act, hGates, hPrev, dh, dhPrev, dXGates, dHGates, batch, hidden);                                            \
    }

NN_RECURRENT(float, f32)
NN_RECURRENT(double, f64)
