// Embedding lookup (gather rows) and its backward (scatter-add rows with atomicAdd).
// weight [num_embeddings, dim], indices int32 [count], out / dy [count, dim], all contiguous.
// An index outside [0, num_embeddings) reads as a zero row and receives no gradient; the forward pass
// also lowers *first_bad (set to INT_MAX by the host) to the smallest such position, which the host reads
// once after the kernel to raise an error naming it, so the indices never travel to the host.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void embedding_fwd(const T* __restrict__ weight, const int* __restrict__ idx, T* __restrict__ out, i64 count, i64 dim, i64 num,
                                              int* __restrict__ first_bad) {
    NN_GRID_STRIDE(i, count * dim) {
        i64 r = i / dim, c = i % dim;
        int row = idx[r];
        bool inside = row >= 0 && row < num;
        out[i] = inside ? weight[(i64)row * dim + c] : T(0);
        if (!inside && c == 0) atomicMin(first_bad, (int)r);
    }
}

// dweight[idx[r], c] += dy[r, c]; repeated indices meet in the atomic adds, so the
// summation order (and the last bits of float results) is not deterministic.
template <typename T>
__device__ __forceinline__ void embedding_bwd(const T* __restrict__ dy, const int* __restrict__ idx, T* __restrict__ dweight, i64 count, i64 dim, i64 num) {
    NN_GRID_STRIDE(i, count * dim) {
        i64 r = i / dim, c = i % dim;
        int row = idx[r];
        if (row >= 0 && row < num) nn_atomic_add(&dweight[(i64)row * dim + c], dy[i]);
    }
}

// Signatures: embedding_fwd (weight, idx, out, count, dim, num_embeddings, first_bad), count < 2^31;
//             embedding_bwd (dy, idx, dweight, count, dim, num_embeddings), dweight accumulated into.
extern "C" __global__ void embedding_fwd_f32(const float* w, const int* idx, float* out, i64 count, i64 dim, i64 num, int* first_bad) {
    embedding_fwd<float>(w, idx, out, count, dim, num, first_bad);
}
extern "C" __global__ void embedding_fwd_f64(const double* w, const int* idx, double* out, i64 count, i64 dim, i64 num, int* first_bad) {
    embedding_fwd<double>(w, idx, out, count, dim, num, first_bad);
}
extern "C" __global__ void embedding_bwd_f32(const float* dy, const int* idx, float* dw, i64 count, i64 dim, i64 num) { embedding_bwd<float>(dy, idx, dw, count, dim, num); }
extern "C" __global__ void embedding_bwd_f64(const double* dy, const int* idx, double* dw, i64 count, i64 dim, i64 num) { embedding_bwd<double>(dy, idx, dw, count, dim, num); }
