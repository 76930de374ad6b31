// Dropout and random fills from the Philox-4x32-10 counter-based generator in common.cuh.
// Element i uses word (i % 4) of the Philox block for counter (i / 4, offset) and key seed,
// so results depend only on (seed, offset, i), never on the launch shape. The host advances
// `offset` between calls so successive masks differ.
#include "common.cuh"

// mask[i] = keep ? 1/(1-p) : 0 with keep probability 1-p; y[i] = x[i] * mask[i].
// The backward pass is dx = dy * mask (mul_contig). p >= 1 drops everything.
template <typename T>
__device__ __forceinline__ void dropout_fwd(const T* __restrict__ x, T* __restrict__ y, T* __restrict__ mask, i64 n, T p, u64 seed, u64 offset) {
    T scale = p < T(1) ? T(1) / (T(1) - p) : T(0);
    i64 groups = (n + 3) / 4;
    NN_GRID_STRIDE(g, groups) {
        NnU4 r = nn_random4(seed, offset, (u64)g);
        for (int k = 0; k < 4; ++k) {
            i64 i = g * 4 + k;
            if (i >= n) break;
            T u = (T)nn_u01d(nn_pick(r, k));
            T m = u > p ? scale : T(0);
            mask[i] = m;
            y[i] = x[i] * m;
        }
    }
}

// y[i] uniform in (lo, hi].
template <typename T>
__device__ __forceinline__ void rand_uniform(T* __restrict__ y, i64 n, T lo, T hi, u64 seed, u64 offset) {
    i64 groups = (n + 3) / 4;
    NN_GRID_STRIDE(g, groups) {
        NnU4 r = nn_random4(seed, offset, (u64)g);
        for (int k = 0; k < 4; ++k) {
            i64 i = g * 4 + k;
            if (i >= n) break;
            y[i] = lo + (hi - lo) * (T)nn_u01d(nn_pick(r, k));
        }
    }
}

// y[i] ~ N(mean, std^2) by Box-Muller on word pairs (x, y) and (z, w).
template <typename T>
__device__ __forceinline__ void rand_normal(T* __restrict__ y, i64 n, T mean, T std, u64 seed, u64 offset) {
    const double two_pi = 6.283185307179586476925286766559;
    i64 groups = (n + 3) / 4;
    NN_GRID_STRIDE(g, groups) {
        NnU4 r = nn_random4(seed, offset, (u64)g);
        double r0 = sqrt(-2.0 * log(nn_u01d(r.x))), t0 = two_pi * nn_u01d(r.y);
        double r1 = sqrt(-2.0 * log(nn_u01d(r.z))), t1 = two_pi * nn_u01d(r.w);
        double z[4] = {r0 * cos(t0), r0 * sin(t0), r1 * cos(t1), r1 * sin(t1)};
        for (int k = 0; k < 4; ++k) {
            i64 i = g * 4 + k;
            if (i >= n) break;
            y[i] = mean + std * (T)z[k];
        }
    }
}

// Signatures: dropout_fwd (x, y, mask, n, p, seed, offset);
//             rand_uniform (y, n, lo, hi, seed, offset); rand_normal (y, n, mean, std, seed, offset).
extern "C" __global__ void dropout_fwd_f32(const float* x, float* y, float* mask, i64 n, float p, u64 seed, u64 offset) { dropout_fwd<float>(x, y, mask, n, p, seed, offset); }
extern "C" __global__ void dropout_fwd_f64(const double* x, double* y, double* mask, i64 n, double p, u64 seed, u64 offset) { dropout_fwd<double>(x, y, mask, n, p, seed, offset); }
extern "C" __global__ void rand_uniform_f32(float* y, i64 n, float lo, float hi, u64 seed, u64 offset) { rand_uniform<float>(y, n, lo, hi, seed, offset); }
extern "C" __global__ void rand_uniform_f64(double* y, i64 n, double lo, double hi, u64 seed, u64 offset) { rand_uniform<double>(y, n, lo, hi, seed, offset); }
extern "C" __global__ void rand_normal_f32(float* y, i64 n, float mean, float std, u64 seed, u64 offset) { rand_normal<float>(y, n, mean, std, seed, offset); }
extern "C" __global__ void rand_normal_f64(double* y, i64 n, double mean, double std, u64 seed, u64 offset) { rand_normal<double>(y, n, mean, std, seed, offset); }
