// Shared helpers for NativeNet's NVRTC-compiled kernels.
// Plain CUDA C++ with no host headers: NVRTC provides the device math builtins (expf, exp, ...).
#pragma once

typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;

#define NN_MAX_RANK 8

// Grid-stride loop over [0, n); the host chooses the launch shape.
#define NN_GRID_STRIDE(i, n)                                                          \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                 \
         i += (i64)blockDim.x * gridDim.x)

// Block-stride loop: each block takes whole slices (rows) of the work.
#define NN_BLOCK_STRIDE(s, n) for (i64 s = blockIdx.x; s < (n); s += gridDim.x)

// Broadcast/strided addressing for up to NN_MAX_RANK dimensions, passed to kernels by value.
// A broadcast dimension has stride 0. Element offsets, not bytes.
struct Strided2 {
    int rank;
    i64 shape[NN_MAX_RANK];
    i64 stride0[NN_MAX_RANK];
    i64 stride1[NN_MAX_RANK];
};

struct Strided3 {
    int rank;
    i64 shape[NN_MAX_RANK];
    i64 stride0[NN_MAX_RANK];
    i64 stride1[NN_MAX_RANK];
    i64 stride2[NN_MAX_RANK];
};

struct Strided4 {
    int rank;
    i64 shape[NN_MAX_RANK];
    i64 stride0[NN_MAX_RANK];
    i64 stride1[NN_MAX_RANK];
    i64 stride2[NN_MAX_RANK];
    i64 stride3[NN_MAX_RANK];
};

// Linear index (row-major over shape) -> offsets of two strided operands.
__device__ __forceinline__ void nn_offsets2(const Strided2& s, i64 linear, i64& o0, i64& o1) {
    o0 = 0; o1 = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
        i64 extent = s.shape[d];
        i64 c = linear % extent;
        linear /= extent;
        o0 += c * s.stride0[d];
        o1 += c * s.stride1[d];
    }
}

__device__ __forceinline__ void nn_offsets3(const Strided3& s, i64 linear, i64& o0, i64& o1, i64& o2) {
    o0 = 0; o1 = 0; o2 = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
        i64 extent = s.shape[d];
        i64 c = linear % extent;
        linear /= extent;
        o0 += c * s.stride0[d];
        o1 += c * s.stride1[d];
        o2 += c * s.stride2[d];
    }
}

__device__ __forceinline__ void nn_offsets4(const Strided4& s, i64 linear, i64& o0, i64& o1, i64& o2, i64& o3) {
    o0 = 0; o1 = 0; o2 = 0; o3 = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
        i64 extent = s.shape[d];
        i64 c = linear % extent;
        linear /= extent;
        o0 += c * s.stride0[d];
        o1 += c * s.stride1[d];
        o2 += c * s.stride2[d];
        o3 += c * s.stride3[d];
    }
}

// Overloads so templates can be written once for float and double.
__device__ __forceinline__ float nn_exp(float x) { return expf(x); }
__device__ __forceinline__ double nn_exp(double x) { return exp(x); }
__device__ __forceinline__ float nn_log(float x) { return logf(x); }
__device__ __forceinline__ double nn_log(double x) { return log(x); }
__device__ __forceinline__ float nn_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double nn_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float nn_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double nn_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float nn_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double nn_abs(double x) { return fabs(x); }
__device__ __forceinline__ float nn_pow(float x, float p) { return powf(x, p); }
__device__ __forceinline__ double nn_pow(double x, double p) { return pow(x, p); }
__device__ __forceinline__ float nn_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ double nn_expm1(double x) { return expm1(x); }
__device__ __forceinline__ float nn_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double nn_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float nn_erfc(float x) { return erfcf(x); }
__device__ __forceinline__ double nn_erfc(double x) { return erfc(x); }

template <typename T> __device__ __forceinline__ bool nn_isnan(T x) { return x != x; }

template <typename T> __device__ __forceinline__ T nn_neg_inf();
template <> __device__ __forceinline__ float nn_neg_inf<float>() { return __int_as_float(0xff800000); }
template <> __device__ __forceinline__ double nn_neg_inf<double>() { return __longlong_as_double(0xfff0000000000000ULL); }
template <typename T> __device__ __forceinline__ T nn_pos_inf();
template <> __device__ __forceinline__ float nn_pos_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double nn_pos_inf<double>() { return __longlong_as_double(0x7ff0000000000000ULL); }

// NaN-propagating max/min, as PyTorch's maximum/minimum and max-reductions.
template <typename T> __device__ __forceinline__ T nn_max(T a, T b) { return (a > b || nn_isnan(a)) ? a : b; }
template <typename T> __device__ __forceinline__ T nn_min(T a, T b) { return (a < b || nn_isnan(a)) ? a : b; }

// Numerically stable logistic function for both signs of x.
template <typename T> __device__ __forceinline__ T nn_sigmoid(T x) {
    if (x >= T(0)) {
        T z = nn_exp(-x);
        return T(1) / (T(1) + z);
    }
    T z = nn_exp(x);
    return z / (T(1) + z);
}

// atomicAdd on double is native only from sm_60; older targets get a CAS loop.
__device__ __forceinline__ float nn_atomic_add(float* addr, float v) { return atomicAdd(addr, v); }
__device__ __forceinline__ double nn_atomic_add(double* addr, double v) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 600
    return atomicAdd(addr, v);
#else
    unsigned long long* p = (unsigned long long*)addr;
    unsigned long long old = *p, assumed;
    do {
        assumed = old;
        old = atomicCAS(p, assumed, __double_as_longlong(v + __longlong_as_double(assumed)));
    } while (assumed != old);
    return __longlong_as_double(old);
#endif
}

// Block-wide reductions. blockDim.x must be a multiple of 32 (at most 1024); every thread
// must call them; the result is returned to every thread.
struct NnSum { template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; } };
struct NnMax { template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return nn_max(a, b); } };
struct NnMin { template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return nn_min(a, b); } };

template <typename T, typename Op>
__device__ __forceinline__ T nn_warp_reduce(T v, Op op) {
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
    return v;
}

template <typename T, typename Op>
__device__ __forceinline__ T nn_block_reduce(T v, Op op, T identity) {
    __shared__ T warp_part[32];
    __shared__ T result;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    v = nn_warp_reduce(v, op);
    if (lane == 0) warp_part[warp] = v;
    __syncthreads();
    int nwarps = (blockDim.x + 31) >> 5;
    if (warp == 0) {
        T w = lane < nwarps ? warp_part[lane] : identity;
        w = nn_warp_reduce(w, op);
        if (lane == 0) result = w;
    }
    __syncthreads();
    T r = result;
    // A second call in the same kernel must not overwrite `result` before all threads read it.
    __syncthreads();
    return r;
}

// Philox-4x32-10 counter-based RNG (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
// The stream for (seed, offset) is a pure function of the element index, independent of launch shape.
struct NnU4 { u32 x, y, z, w; };

__device__ __forceinline__ NnU4 nn_philox4x32_10(NnU4 ctr, u32 k0, u32 k1) {
    const u32 M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const u32 W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        u32 hi0 = __umulhi(M0, ctr.x), lo0 = M0 * ctr.x;
        u32 hi1 = __umulhi(M1, ctr.z), lo1 = M1 * ctr.z;
        NnU4 n;
        n.x = hi1 ^ ctr.y ^ k0;
        n.y = lo1;
        n.z = hi0 ^ ctr.w ^ k1;
        n.w = lo0;
        ctr = n;
        k0 += W0;
        k1 += W1;
    }
    return ctr;
}

// Four random words for the group of elements [4*group, 4*group+4).
__device__ __forceinline__ NnU4 nn_random4(u64 seed, u64 offset, u64 group) {
    NnU4 c;
    c.x = (u32)group;
    c.y = (u32)(group >> 32);
    c.z = (u32)offset;
    c.w = (u32)(offset >> 32);
    return nn_philox4x32_10(c, (u32)seed, (u32)(seed >> 32));
}

__device__ __forceinline__ u32 nn_pick(const NnU4& r, int k) {
    return k == 0 ? r.x : (k == 1 ? r.y : (k == 2 ? r.z : r.w));
}

// Uniform in (0, 1]: never 0, so log() of it is finite.
__device__ __forceinline__ float nn_u01f(u32 v) { return ((float)(v >> 8) + 1.0f) * (1.0f / 16777216.0f); }
__device__ __forceinline__ double nn_u01d(u32 v) { return ((double)v + 1.0) * (1.0 / 4294967296.0); }
