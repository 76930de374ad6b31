// Reductions along one axis of a contiguous tensor viewed as [outer, dim, inner]; the output is
// [outer, inner]. Two launch styles per op, chosen by the host:
//   <op>_axis_<t>       one block per output element, threads cooperate along dim
//                       (best when dim is large; blockDim.x a multiple of 32);
//   <op>_axis_small_<t> one thread per output element, looping over dim
//                       (best when dim is small and outer*inner is large; coalesced along inner).
// Signature of both: (const T* x, T* y, i64 outer, i64 dim, i64 inner).
#include "common.cuh"

struct RedSum {
    template <typename T> __device__ static T identity() { return T(0); }
    template <typename T> __device__ static T combine(T a, T b) { return a + b; }
    template <typename T> __device__ static T finish(T acc, i64) { return acc; }
    typedef NnSum Block;
};
struct RedMean {
    template <typename T> __device__ static T identity() { return T(0); }
    template <typename T> __device__ static T combine(T a, T b) { return a + b; }
    template <typename T> __device__ static T finish(T acc, i64 dim) { return acc / T(dim); }
    typedef NnSum Block;
};
struct RedMax {
    template <typename T> __device__ static T identity() { return nn_neg_inf<T>(); }
    template <typename T> __device__ static T combine(T a, T b) { return nn_max(a, b); }
    template <typename T> __device__ static T finish(T acc, i64) { return acc; }
    typedef NnMax Block;
};
struct RedMin {
    template <typename T> __device__ static T identity() { return nn_pos_inf<T>(); }
    template <typename T> __device__ static T combine(T a, T b) { return nn_min(a, b); }
    template <typename T> __device__ static T finish(T acc, i64) { return acc; }
    typedef NnMin Block;
};

template <typename T, typename R>
__device__ __forceinline__ void reduce_axis_block(const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 dim, i64 inner) {
    i64 slices = outer * inner;
    NN_BLOCK_STRIDE(s, slices) {
        i64 o = s / inner, in = s % inner;
        const T* base = x + o * dim * inner + in;
        T acc = R::template identity<T>();
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) acc = R::combine(acc, base[d * inner]);
        acc = nn_block_reduce(acc, typename R::Block(), R::template identity<T>());
        if (threadIdx.x == 0) y[s] = R::finish(acc, dim);
    }
}

template <typename T, typename R>
__device__ __forceinline__ void reduce_axis_thread(const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 dim, i64 inner) {
    NN_GRID_STRIDE(s, outer * inner) {
        i64 o = s / inner, in = s % inner;
        const T* base = x + o * dim * inner + in;
        T acc = R::template identity<T>();
        for (i64 d = 0; d < dim; ++d) acc = R::combine(acc, base[d * inner]);
        y[s] = R::finish(acc, dim);
    }
}

#define NN_REDUCE(name, R)                                                                                                             \
    extern "C" __global__ void name##_axis_f32(const float* x, float* y, i64 outer, i64 dim, i64 inner) { reduce_axis_block<float, R>(x, y, outer, dim, inner); } \
    extern "C" __global__ void name##_axis_f64(const double* x, double* y, i64 outer, i64 dim, i64 inner) { reduce_axis_block<double, R>(x, y, outer, dim, inner); } \
    extern "C" __global__ void name##_axis_small_f32(const float* x, float* y, i64 outer, i64 dim, i64 inner) { reduce_axis_thread<float, R>(x, y, outer, dim, inner); } \
    extern "C" __global__ void name##_axis_small_f64(const double* x, double* y, i64 outer, i64 dim, i64 inner) { reduce_axis_thread<double, R>(x, y, outer, dim, inner); }

NN_REDUCE(sum, RedSum)
NN_REDUCE(mean, RedMean)
NN_REDUCE(max, RedMax)
NN_REDUCE(min, RedMin)

// ---------------------------------------------------------------- argmax -> int32
// NaN counts as the largest value (as in PyTorch); ties go to the lowest index.
template <typename T>
__device__ __forceinline__ bool arg_better(T v, int i, T bv, int bi) {
    if (bi < 0) return true;
    bool vn = nn_isnan(v), bn = nn_isnan(bv);
    if (vn != bn) return vn;
    if (!vn && v != bv) return v > bv;
    return i < bi;
}

template <typename T>
__device__ __forceinline__ void argmax_axis_block(const T* __restrict__ x, int* __restrict__ y, i64 outer, i64 dim, i64 inner) {
    __shared__ T sv[32];
    __shared__ int si[32];
    i64 slices = outer * inner;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    NN_BLOCK_STRIDE(s, slices) {
        i64 o = s / inner, in = s % inner;
        const T* base = x + o * dim * inner + in;
        T bv = nn_neg_inf<T>();
        int bi = -1;
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) {
            T v = base[d * inner];
            if (arg_better(v, (int)d, bv, bi)) { bv = v; bi = (int)d; }
        }
        for (int off = 16; off > 0; off >>= 1) {
            T ov = __shfl_down_sync(0xffffffffu, bv, off);
            int oi = __shfl_down_sync(0xffffffffu, bi, off);
            if (oi >= 0 && arg_better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
        }
        if (lane == 0) { sv[warp] = bv; si[warp] = bi; }
        __syncthreads();
        if (warp == 0) {
            bv = lane < nwarps ? sv[lane] : nn_neg_inf<T>();
            bi = lane < nwarps ? si[lane] : -1;
            for (int off = 16; off > 0; off >>= 1) {
                T ov = __shfl_down_sync(0xffffffffu, bv, off);
                int oi = __shfl_down_sync(0xffffffffu, bi, off);
                if (oi >= 0 && arg_better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
            }
            if (lane == 0) y[s] = bi < 0 ? 0 : bi;
        }
        __syncthreads();
    }
}

template <typename T>
__device__ __forceinline__ void argmax_axis_thread(const T* __restrict__ x, int* __restrict__ y, i64 outer, i64 dim, i64 inner) {
    NN_GRID_STRIDE(s, outer * inner) {
        i64 o = s / inner, in = s % inner;
        const T* base = x + o * dim * inner + in;
        T bv = nn_neg_inf<T>();
        int bi = -1;
        for (i64 d = 0; d < dim; ++d) {
            T v = base[d * inner];
            if (arg_better(v, (int)d, bv, bi)) { bv = v; bi = (int)d; }
        }
        y[s] = bi < 0 ? 0 : bi;
    }
}

// Signature: (const T* x, int* y, i64 outer, i64 dim, i64 inner).
extern "C" __global__ void argmax_axis_f32(const float* x, int* y, i64 outer, i64 dim, i64 inner) { argmax_axis_block<float>(x, y, outer, dim, inner); }
extern "C" __global__ void argmax_axis_f64(const double* x, int* y, i64 outer, i64 dim, i64 inner) { argmax_axis_block<double>(x, y, outer, dim, inner); }
extern "C" __global__ void argmax_axis_small_f32(const float* x, int* y, i64 outer, i64 dim, i64 inner) { argmax_axis_thread<float>(x, y, outer, dim, inner); }
extern "C" __global__ void argmax_axis_small_f64(const double* x, int* y, i64 outer, i64 dim, i64 inner) { argmax_axis_thread<double>(x, y, outer, dim, inner); }
