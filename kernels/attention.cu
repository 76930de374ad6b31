// Fused scaled dot-product attention, one warp per query row (forward, dq) or key row (dk, dv): every operand but the bias
// is contiguous, q [N, Tq, D], k [N, Tk, D], v [N, Tk, Dv], out [N, Tq, Dv], lse [N, Tq]. Each lane holds the head
// elements lane, lane + 32, ... (D, Dv <= NN_ATTN_MAX_DIM), a dot product is a warp reduction over __shfl_xor_sync, and
// the forward keeps an online softmax (running max m and sum l, the accumulator rescaled by e^(m_old - m_new)) so no [Tq, Tk]
// matrix exists anywhere; it saves lse = m + log l for the backward, which recomputes p = e^(s - lse).
// bias (or 0 for none) is a [B1, B2, Tq, Tk] view addressed by n -> (n / biasInner, n % biasInner) with element strides
// bs0, bs1, bsq, bsk; causal masks key j > query i. A row with every key masked gets NaN output and lse, as a softmax over
// a row of -inf does. Blocks are NN_ATTN_WARPS warps; the host checks the head widths.
#include "common.cuh"

#define NN_ATTN_MAX_DIM 256
#define NN_ATTN_PER_LANE (NN_ATTN_MAX_DIM / 32)
#define NN_ATTN_WARPS 4

__device__ __forceinline__ float nn_aexp(float x) { return expf(x); }
__device__ __forceinline__ double nn_aexp(double x) { return exp(x); }
__device__ __forceinline__ float nn_alog(float x) { return logf(x); }
__device__ __forceinline__ double nn_alog(double x) { return log(x); }
__device__ __forceinline__ float nn_anan(float) { return __int_as_float(0x7fffffff); }
__device__ __forceinline__ double nn_anan(double) { return __longlong_as_double(0x7fffffffffffffffLL); }

template <typename T>
__device__ __forceinline__ T nn_warp_sum(T x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

// Sum over the lane's elements of a[c] * row[c], reduced over the warp; a holds the lane's elements of a head row.
template <typename T>
__device__ __forceinline__ T nn_row_dot(const T (&a)[NN_ATTN_PER_LANE], const T* __restrict__ row, i64 dim, int lane) {
    T part = T(0);
#pragma unroll
    for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
        i64 c = lane + 32 * t;
        if (c < dim) part += a[t] * row[c];
    }
    return nn_warp_sum(part);
}

template <typename T>
__device__ __forceinline__ void nn_load_row(T (&a)[NN_ATTN_PER_LANE], const T* __restrict__ row, i64 dim, int lane) {
#pragma unroll
    for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
        i64 c = lane + 32 * t;
        a[t] = c < dim ? row[c] : T(0);
    }
}

template <typename T>
__device__ __forceinline__ T nn_score(T dot, double scale, const T* __restrict__ bias, i64 biasInner, i64 bs0, i64 bs1, i64 bsq, i64 bsk,
                                      bool causal, i64 n, i64 i, i64 j) {
    T s = dot * T(scale);
    if (bias) s += bias[n / biasInner * bs0 + n % biasInner * bs1 + i * bsq + j * bsk];
    if (causal && j > i) s = nn_neg_inf<T>();
    return s;
}

// out, lse: one warp per query row (n, i).
template <typename T>
__device__ __forceinline__ void attn_fwd(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ bias,
                                         T* __restrict__ out, T* __restrict__ lse, i64 batch, i64 tq, i64 tk, i64 d, i64 dv, i64 causal,
                                         double scale, i64 biasInner, i64 bs0, i64 bs1, i64 bsq, i64 bsk) {
    int lane = threadIdx.x & 31;
    i64 warps = (i64)gridDim.x * NN_ATTN_WARPS;
    for (i64 row = (i64)blockIdx.x * NN_ATTN_WARPS + (threadIdx.x >> 5); row < batch * tq; row += warps) {
        i64 n = row / tq, i = row - n * tq;
        T qr[NN_ATTN_PER_LANE], acc[NN_ATTN_PER_LANE];
        nn_load_row(qr, q + row * d, d, lane);
#pragma unroll
        for (int t = 0; t < NN_ATTN_PER_LANE; ++t) acc[t] = T(0);
        T m = nn_neg_inf<T>(), l = T(0);
        i64 keyEnd = causal ? (i + 1 < tk ? i + 1 : tk) : tk;
        for (i64 j = 0; j < keyEnd; ++j) {
            T s = nn_score(nn_row_dot(qr, k + (n * tk + j) * d, d, lane), scale, bias, biasInner, bs0, bs1, bsq, bsk, causal != 0, n, i, j);
            if (s == nn_neg_inf<T>()) continue;
            T mNew = s > m ? s : m;
            T alpha = nn_aexp(m - mNew), p = nn_aexp(s - mNew);
            l = l * alpha + p;
            m = mNew;
            const T* vr = v + (n * tk + j) * dv;
#pragma unroll
            for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
                i64 c = lane + 32 * t;
                if (c < dv) acc[t] = acc[t] * alpha + p * vr[c];
            }
        }
        bool empty = l == T(0);
        T inv = empty ? T(0) : T(1) / l;
#pragma unroll
        for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
            i64 c = lane + 32 * t;
            if (c < dv) out[row * dv + c] = empty ? nn_anan(T(0)) : acc[t] * inv;
        }
        if (lane == 0) lse[row] = empty ? nn_anan(T(0)) : m + nn_alog(l);
    }
}

// dq and delta = rowsum(dO * O): one warp per query row (n, i).
template <typename T>
__device__ __forceinline__ void attn_bwd_dq(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ bias,
                                            const T* __restrict__ out, const T* __restrict__ lse, const T* __restrict__ dout, T* __restrict__ dq,
                                            T* __restrict__ delta, i64 batch, i64 tq, i64 tk, i64 d, i64 dv, i64 causal, double scale,
                                            i64 biasInner, i64 bs0, i64 bs1, i64 bsq, i64 bsk) {
    int lane = threadIdx.x & 31;
    i64 warps = (i64)gridDim.x * NN_ATTN_WARPS;
    for (i64 row = (i64)blockIdx.x * NN_ATTN_WARPS + (threadIdx.x >> 5); row < batch * tq; row += warps) {
        i64 n = row / tq, i = row - n * tq;
        T qr[NN_ATTN_PER_LANE], dor[NN_ATTN_PER_LANE], acc[NN_ATTN_PER_LANE];
        nn_load_row(qr, q + row * d, d, lane);
        nn_load_row(dor, dout + row * dv, dv, lane);
#pragma unroll
        for (int t = 0; t < NN_ATTN_PER_LANE; ++t) acc[t] = T(0);
        T rowDot = nn_row_dot(dor, out + row * dv, dv, lane);
        if (lane == 0) delta[row] = rowDot;
        T lr = lse[row];
        i64 keyEnd = causal ? (i + 1 < tk ? i + 1 : tk) : tk;
        for (i64 j = 0; j < keyEnd; ++j) {
            T s = nn_score(nn_row_dot(qr, k + (n * tk + j) * d, d, lane), scale, bias, biasInner, bs0, bs1, bsq, bsk, causal != 0, n, i, j);
            T p = nn_aexp(s - lr);
            T ds = p * (nn_row_dot(dor, v + (n * tk + j) * dv, dv, lane) - rowDot) * T(scale);
            const T* kr = k + (n * tk + j) * d;
#pragma unroll
            for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
                i64 c = lane + 32 * t;
                if (c < d) acc[t] += ds * kr[c];
            }
        }
#pragma unroll
        for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
            i64 c = lane + 32 * t;
            if (c < d) dq[row * d + c] = acc[t];
        }
    }
}

// dk, dv: one warp per key row (n, j), reading the delta written by attn_bwd_dq.
template <typename T>
__device__ __forceinline__ void attn_bwd_dkdv(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ bias,
                                              const T* __restrict__ lse, const T* __restrict__ dout, const T* __restrict__ delta, T* __restrict__ dk,
                                              T* __restrict__ dvOut, i64 batch, i64 tq, i64 tk, i64 d, i64 dv, i64 causal, double scale,
                                              i64 biasInner, i64 bs0, i64 bs1, i64 bsq, i64 bsk) {
    int lane = threadIdx.x & 31;
    i64 warps = (i64)gridDim.x * NN_ATTN_WARPS;
    for (i64 row = (i64)blockIdx.x * NN_ATTN_WARPS + (threadIdx.x >> 5); row < batch * tk; row += warps) {
        i64 n = row / tk, j = row - n * tk;
        T kr[NN_ATTN_PER_LANE], vr[NN_ATTN_PER_LANE], dkAcc[NN_ATTN_PER_LANE], dvAcc[NN_ATTN_PER_LANE];
        nn_load_row(kr, k + row * d, d, lane);
        nn_load_row(vr, v + row * dv, dv, lane);
#pragma unroll
        for (int t = 0; t < NN_ATTN_PER_LANE; ++t) { dkAcc[t] = T(0); dvAcc[t] = T(0); }
        for (i64 i = causal ? j : 0; i < tq; ++i) {
            i64 qrow = n * tq + i;
            const T* qi = q + qrow * d;
            const T* doi = dout + qrow * dv;
            T s = nn_score(nn_row_dot(kr, qi, d, lane), scale, bias, biasInner, bs0, bs1, bsq, bsk, causal != 0, n, i, j);
            T p = nn_aexp(s - lse[qrow]);
            T ds = p * (nn_row_dot(vr, doi, dv, lane) - delta[qrow]) * T(scale);
#pragma unroll
            for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
                i64 c = lane + 32 * t;
                if (c < dv) dvAcc[t] += p * doi[c];
                if (c < d) dkAcc[t] += ds * qi[c];
            }
        }
#pragma unroll
        for (int t = 0; t < NN_ATTN_PER_LANE; ++t) {
            i64 c = lane + 32 * t;
            if (c < d) dk[row * d + c] = dkAcc[t];
            if (c < dv) dvOut[row * dv + c] = dvAcc[t];
        }
    }
}

#define NN_ATTENTION(T, sfx)                                                                                                          \
    extern "C" __global__ void attention_fwd_##sfx(const T* q, const T* k, const T* v, const T* bias, T* out, T* lse, i64 batch, i64 tq,  \
                                                   i64 tk, i64 d, i64 dv, i64 causal, double scale, i64 biasInner, i64 bs0, i64 bs1,     \
                                                   i64 bsq, i64 bsk) {                                                                  \
        attn_fwd<T>(q, k, v, bias, out, lse, batch, tq, tk, d, dv, causal, scale, biasInner, bs0, bs1, bsq, bsk);                      \
    }                                                                                                                                 \
    extern "C" __global__ void attention_bwd_dq_##sfx(const T* q, const T* k, const T* v, const T* bias, const T* out, const T* lse,     \
                                                      const T* dout, T* dq, T* delta, i64 batch, i64 tq, i64 tk, i64 d, i64 dv,         \
                                                      i64 causal, double scale, i64 biasInner, i64 bs0, i64 bs1, i64 bsq, i64 bsk) {     \
        attn_bwd_dq<T>(q, k, v, bias, out, lse, dout, dq, delta, batch, tq, tk, d, dv, causal, scale, biasInner, bs0, bs1, bsq, bsk);  \
    }                                                                                                                                 \
    extern "C" __global__ void attention_bwd_dkdv_##sfx(const T* q, const T* k, const T* v, const T* bias, const T* lse, const T* dout, \
                                                        const T* delta, T* dk, T* dvOut, i64 batch, i64 tq, i64 tk, i64 d, i64 dv,      \
                                                        i64 causal, double scale, i64 biasInner, i64 bs0, i64 bs1, i64 bsq, i64 bsk) {   \
        attn_bwd_dkdv<T>(q, k, v, bias, lse, dout, delta, dk, dvOut, batch, tq, tk, d, dv, causal, scale, biasInner, bs0, bs1, bsq, bsk); \
    }

NN_ATTENTION(float, f32)
NN_ATTENTION(double, f64)
