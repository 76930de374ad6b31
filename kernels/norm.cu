// Row normalisation behind LayerNorm and GroupNorm on contiguous rows [rows, cols]: one block per row, threads along
// the row, blockDim.x a multiple of 32. Two passes (mean, then the variance of the centred values), as the CPU backends.
#include "common.cuh"

// x_hat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps); writes x_hat [rows, cols] and rstd [rows].
template <typename T>
__device__ __forceinline__ void normalize_rows(const T* __restrict__ x, T* __restrict__ x_hat, T* __restrict__ rstd, i64 rows, i64 cols, T eps) {
    NN_BLOCK_STRIDE(r, rows) {
        const T* row = x + r * cols;
        T sum = T(0);
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c];
        T mean = nn_block_reduce(sum, NnSum(), T(0)) / T(cols);
        T squares = T(0);
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
            T d = row[c] - mean;
            squares += d * d;
        }
        T inv = T(1) / nn_sqrt(nn_block_reduce(squares, NnSum(), T(0)) / T(cols) + eps);
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) x_hat[r * cols + c] = (row[c] - mean) * inv;
        if (threadIdx.x == 0) rstd[r] = inv;
    }
}

// dx = rstd * (g - mean(g) - x_hat * mean(g * x_hat)) per row, g = dL/dx_hat.
template <typename T>
__device__ __forceinline__ void normalize_rows_bwd(const T* __restrict__ g, const T* __restrict__ x_hat, const T* __restrict__ rstd, T* __restrict__ dx, i64 rows, i64 cols) {
    NN_BLOCK_STRIDE(r, rows) {
        const T* gr = g + r * cols;
        const T* hr = x_hat + r * cols;
        T sum = T(0), dot = T(0);
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
            sum += gr[c];
            dot += gr[c] * hr[c];
        }
        T mean_g = nn_block_reduce(sum, NnSum(), T(0)) / T(cols);
        T mean_gh = nn_block_reduce(dot, NnSum(), T(0)) / T(cols);
        T inv = rstd[r];
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) dx[r * cols + c] = inv * (gr[c] - mean_g - hr[c] * mean_gh);
    }
}

// Signatures: normalize_rows_fwd (x, x_hat, rstd, rows, cols, eps); normalize_rows_bwd (g, x_hat, rstd, dx, rows, cols).
extern "C" __global__ void normalize_rows_fwd_f32(const float* x, float* x_hat, float* rstd, i64 rows, i64 cols, float eps) { normalize_rows<float>(x, x_hat, rstd, rows, cols, eps); }
extern "C" __global__ void normalize_rows_fwd_f64(const double* x, double* x_hat, double* rstd, i64 rows, i64 cols, double eps) { normalize_rows<double>(x, x_hat, rstd, rows, cols, eps); }
extern "C" __global__ void normalize_rows_bwd_f32(const float* g, const float* x_hat, const float* rstd, float* dx, i64 rows, i64 cols) { normalize_rows_bwd<float>(g, x_hat, rstd, dx, rows, cols); }
extern "C" __global__ void normalize_rows_bwd_f64(const double* g, const double* x_hat, const double* rstd, double* dx, i64 rows, i64 cols) { normalize_rows_bwd<double>(g, x_hat, rstd, dx, rows, cols); }
