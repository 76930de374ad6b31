// Index primitives along one axis: data viewed as [outer, dim, inner], indices (int32) and the values they pick or
// place as [outer, count, inner], everything contiguous. An index outside [0, dim) is skipped and lowers *first_bad
// (set to INT_MAX by the host) to its flat position, which the host reads once after the kernel to raise an error,
// so the indices never travel to the host.
#include "common.cuh"

__device__ __forceinline__ i64 nn_axis_target(i64 p, const int* idx, i64 dim, i64 count, i64 inner, int* first_bad, bool& inside) {
    i64 o = p / (count * inner), i = p % inner;
    int v = idx[p];
    inside = v >= 0 && v < dim;
    if (!inside) atomicMin(first_bad, (int)p);
    return (o * dim + v) * inner + i;
}

// y[p] = x[o, idx[p], i]; a bad index gives 0.
template <typename T>
__device__ __forceinline__ void gather_axis(const T* __restrict__ x, const int* __restrict__ idx, T* __restrict__ y, i64 dim, i64 count, i64 inner, i64 n,
                                            int* __restrict__ first_bad) {
    NN_GRID_STRIDE(p, n) {
        bool inside;
        i64 at = nn_axis_target(p, idx, dim, count, inner, first_bad, inside);
        y[p] = inside ? x[at] : T(0);
    }
}

// dst[o, idx[p], i] += src[p] with atomic adds: repeated indices make float sums not bit-deterministic.
template <typename T>
__device__ __forceinline__ void scatter_add_axis(const T* __restrict__ src, const int* __restrict__ idx, T* __restrict__ dst, i64 dim, i64 count, i64 inner, i64 n,
                                                 int* __restrict__ first_bad) {
    NN_GRID_STRIDE(p, n) {
        bool inside;
        i64 at = nn_axis_target(p, idx, dim, count, inner, first_bad, inside);
        if (inside) nn_atomic_add(&dst[at], src[p]);
    }
}

// Plain scatter in two launches, so that the last position naming an element wins on the device as in a serial loop:
// scatter_claim raises winner[target] (filled with -1 by the host) to the largest position naming it, then
// scatter_write stores src[p] only where p is the winner, so no two threads write one element.
extern "C" __global__ void scatter_claim(const int* idx, int* winner, i64 dim, i64 count, i64 inner, i64 n, int* first_bad) {
    NN_GRID_STRIDE(p, n) {
        bool inside;
        i64 at = nn_axis_target(p, idx, dim, count, inner, first_bad, inside);
        if (inside) atomicMax(&winner[at], (int)p);
    }
}

template <typename T>
__device__ __forceinline__ void scatter_write(const T* __restrict__ src, const int* __restrict__ idx, const int* __restrict__ winner, T* __restrict__ dst,
                                              i64 dim, i64 count, i64 inner, i64 n) {
    NN_GRID_STRIDE(p, n) {
        i64 o = p / (count * inner), i = p % inner;
        int v = idx[p];
        if (v < 0 || v >= dim) continue;
        i64 at = (o * dim + v) * inner + i;
        if (winner[at] == (int)p) dst[at] = src[p];
    }
}

// y[p] = x[o, idx[j], i] for p = (o*count + j)*inner + i and a 1-D index [count]; a bad index gives 0 and lowers
// *first_bad to its position j in the index.
template <typename T>
__device__ __forceinline__ void index_select_axis(const T* __restrict__ x, const int* __restrict__ idx, T* __restrict__ y, i64 dim, i64 count, i64 inner, i64 n,
                                                  int* __restrict__ first_bad) {
    NN_GRID_STRIDE(p, n) {
        i64 o = p / (count * inner), j = (p / inner) % count, i = p % inner;
        int v = idx[j];
        bool inside = v >= 0 && v < dim;
        if (!inside && i == 0) atomicMin(first_bad, (int)j);
        y[p] = inside ? x[(o * dim + v) * inner + i] : T(0);
    }
}

// dst[o, idx[j], i] += src[p] with atomic adds (repeated indices meet there).
template <typename T>
__device__ __forceinline__ void index_add_axis(const T* __restrict__ src, const int* __restrict__ idx, T* __restrict__ dst, i64 dim, i64 count, i64 inner, i64 n,
                                               int* __restrict__ first_bad) {
    NN_GRID_STRIDE(p, n) {
        i64 o = p / (count * inner), j = (p / inner) % count, i = p % inner;
        int v = idx[j];
        bool inside = v >= 0 && v < dim;
        if (!inside && i == 0) atomicMin(first_bad, (int)j);
        if (inside) nn_atomic_add(&dst[(o * dim + v) * inner + i], src[p]);
    }
}

// One thread per column (o, i): a running sum in index order (reversed when reverse != 0), as the CPU loop.
template <typename T>
__device__ __forceinline__ void cumsum_axis(const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 dim, i64 inner, int reverse) {
    NN_GRID_STRIDE(c, outer * inner) {
        i64 o = c / inner, i = c % inner;
        T acc = T(0);
        for (i64 s = 0; s < dim; ++s) {
            i64 at = (o * dim + (reverse ? dim - 1 - s : s)) * inner + i;
            acc += x[at];
            y[at] = acc;
        }
    }
}

// Whether (a, ia) comes before (b, ib) in TopK's total order: NaN above every number, ties by index.
template <typename T>
__device__ __forceinline__ bool topk_precedes(T a, i64 ia, T b, i64 ib, int largest) {
    bool nan_a = a != a, nan_b = b != b;
    if (nan_a || nan_b) return nan_a && nan_b ? ia < ib : nan_a == (largest != 0);
    if (a != b) return largest ? a > b : a < b;
    return ia < ib;
}

// One thread per column: k selection passes, each taking the first element (in the total order) after the previous pick.
template <typename T>
__device__ __forceinline__ void topk_axis(const T* __restrict__ x, T* __restrict__ values, int* __restrict__ indices, i64 outer, i64 dim, i64 inner, i64 k,
                                          int largest) {
    NN_GRID_STRIDE(c, outer * inner) {
        i64 o = c / inner, i = c % inner;
        const T* col = x + o * dim * inner + i;
        T prev = T(0);
        i64 prev_at = -1;
        for (i64 r = 0; r < k; ++r) {
            i64 best = -1;
            T best_v = T(0);
            for (i64 d = 0; d < dim; ++d) {
                T v = col[d * inner];
                if (prev_at >= 0 && !topk_precedes(prev, prev_at, v, d, largest)) continue;
                if (best < 0 || topk_precedes(v, d, best_v, best, largest)) { best = d; best_v = v; }
            }
            i64 at = (o * k + r) * inner + i;
            values[at] = best_v;
            indices[at] = (int)best;
            prev = best_v;
            prev_at = best;
        }
    }
}

// Signatures (n = outer*count*inner < 2^31): gather_axis (x, idx, y, dim, count, inner, n, first_bad);
// scatter_add_axis (src, idx, dst, dim, count, inner, n, first_bad); scatter_claim (idx, winner, dim, count, inner, n, first_bad);
// scatter_write (src, idx, winner, dst, dim, count, inner, n); index_select_axis (x, idx, y, dim, count, inner, n, first_bad);
// index_add_axis (src, idx, dst, dim, count, inner, n, first_bad) with idx [count]; cumsum_axis (x, y, outer, dim, inner, reverse);
// topk_axis (x, values, indices, outer, dim, inner, k, largest).
#define NN_INDEXING(T, sfx)                                                                                                              \
    extern "C" __global__ void gather_axis_##sfx(const T* x, const int* idx, T* y, i64 dim, i64 count, i64 inner, i64 n, int* bad) {    \
        gather_axis<T>(x, idx, y, dim, count, inner, n, bad);                                                                            \
    }                                                                                                                                    \
    extern "C" __global__ void scatter_add_axis_##sfx(const T* src, const int* idx, T* dst, i64 dim, i64 count, i64 inner, i64 n, int* bad) { \
        scatter_add_axis<T>(src, idx, dst, dim, count, inner, n, bad);                                                                   \
    }                                                                                                                                    \
    extern "C" __global__ void scatter_write_##sfx(const T* src, const int* idx, const int* winner, T* dst, i64 dim, i64 count, i64 inner, i64 n) { \
        scatter_write<T>(src, idx, winner, dst, dim, count, inner, n);                                                                   \
    }                                                                                                                                    \
    extern "C" __global__ void index_select_axis_##sfx(const T* x, const int* idx, T* y, i64 dim, i64 count, i64 inner, i64 n, int* bad) { \
        index_select_axis<T>(x, idx, y, dim, count, inner, n, bad);                                                                      \
    }                                                                                                                                    \
    extern "C" __global__ void index_add_axis_##sfx(const T* src, const int* idx, T* dst, i64 dim, i64 count, i64 inner, i64 n, int* bad) { \
        index_add_axis<T>(src, idx, dst, dim, count, inner, n, bad);                                                                     \
    }                                                                                                                                    \
    extern "C" __global__ void cumsum_axis_##sfx(const T* x, T* y, i64 outer, i64 dim, i64 inner, int reverse) {                        \
        cumsum_axis<T>(x, y, outer, dim, inner, reverse);                                                                                \
    }                                                                                                                                    \
    extern "C" __global__ void topk_axis_##sfx(const T* x, T* values, int* indices, i64 outer, i64 dim, i64 inner, i64 k, int largest) { \
        topk_axis<T>(x, values, indices, outer, dim, inner, k, largest);                                                                 \
    }

NN_INDEXING(float, f32)
NN_INDEXING(double, f64)
