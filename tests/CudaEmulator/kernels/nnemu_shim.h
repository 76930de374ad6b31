// CPU build of NativeNet's CUDA kernels: what NVRTC's device environment provides, for g++.
// Each emulated thread is a fiber of the emulated driver (driver/launch.cpp); the built-in
// variables are that fiber's, __shared__ is per host thread (blocks run one at a time on it),
// and barriers and warp operations switch fibers with CUDA's semantics, strictly checked.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

struct uint3 { unsigned int x, y, z; };
typedef uint3 dim3;

extern "C" {
// The built-in variables of the running fiber (launch.cpp).
extern __thread uint3 nnemu_threadIdx, nnemu_blockIdx, nnemu_blockDim, nnemu_gridDim;
// Set by every atomic: the launch's result may then depend on thread order (float sums).
extern __thread int nnemu_used_atomics;
// Block barrier at a source site; every thread of the block must reach the same site.
void nnemu_syncthreads(const char* file, int line);
// Publishes this lane's 8 bytes for the warp operation at file:line, waits until every lane of
// `mask` has published (all with the same mask, at the same line), and returns the warp's 32
// published values (those of lanes outside the mask are stale) and this lane's index.
const uint64_t* nnemu_warp_publish(unsigned mask, uint64_t bits, const char* file, int line, unsigned* lane);
// Fails the launch with a message naming the kernel, block and thread.
void nnemu_kernel_error(const char* file, int line, const char* what, unsigned value);
}

#define threadIdx nnemu_threadIdx
#define blockIdx nnemu_blockIdx
#define blockDim nnemu_blockDim
#define gridDim nnemu_gridDim
#define warpSize 32

#ifdef NNEMU_LIST_KERNELS
#define __global__ NNEMU_KERNEL_MARKER
#else
#define __global__
#endif
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static __thread
#define __constant__ static const

#define __syncthreads() nnemu_syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) nnemu_syncwarp_at(__FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_sync(...) nnemu_shfl_idx(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) nnemu_shfl_down(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) nnemu_shfl_up(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) nnemu_shfl_xor(__FILE__, __LINE__, __VA_ARGS__)
#define __ballot_sync(...) nnemu_ballot(__FILE__, __LINE__, __VA_ARGS__)
#define __any_sync(m, p) (nnemu_ballot(__FILE__, __LINE__, (m), (p)) != 0u)
#define __all_sync(m, p) (nnemu_ballot(__FILE__, __LINE__, (m), (p)) == (unsigned)(m))

inline void nnemu_syncwarp_at(const char* file, int line, unsigned mask = 0xffffffffu) {
    unsigned lane;
    nnemu_warp_publish(mask, 0, file, line, &lane);
}

inline void nnemu_check_width(const char* file, int line, int width) {
    if (width <= 0 || width > 32 || (width & (width - 1)))
        nnemu_kernel_error(file, line, "warp shuffle width must be a power of 2 up to 32, got", (unsigned)width);
}

enum NnemuShfl { kNnemuIdx, kNnemuDown, kNnemuUp, kNnemuXor };

// Every lane of the mask publishes its value and reads its source lane's, CUDA's rules for each
// kind; a lane whose source is outside its segment keeps its own value. Reading a lane outside the
// mask is an error.
template <typename T>
inline T nnemu_shuffle(const char* file, int line, NnemuShfl kind, unsigned mask, T v, int arg, int width) {
    static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
    nnemu_check_width(file, line, width);
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    unsigned ulane;
    const uint64_t* slots = nnemu_warp_publish(mask, bits, file, line, &ulane);
    int lane = (int)ulane, seg = lane % width, src;
    switch (kind) {
        case kNnemuIdx: src = lane - seg + (arg & (width - 1)); break;
        case kNnemuDown: if (seg + arg >= width) return v; src = lane + arg; break;
        case kNnemuUp: if (seg < arg) return v; src = lane - arg; break;
        default: src = lane ^ arg; if (src / width != lane / width) return v; break;
    }
    if (!((mask >> src) & 1u)) nnemu_kernel_error(file, line, "warp shuffle reads a lane outside its mask:", (unsigned)src);
    T r;
    memcpy(&r, &slots[src], sizeof(T));
    return r;
}

template <typename T>
inline T nnemu_shfl_idx(const char* file, int line, unsigned mask, T v, int src, int width = 32) { return nnemu_shuffle(file, line, kNnemuIdx, mask, v, src, width); }
template <typename T>
inline T nnemu_shfl_down(const char* file, int line, unsigned mask, T v, unsigned delta, int width = 32) { return nnemu_shuffle(file, line, kNnemuDown, mask, v, (int)delta, width); }
template <typename T>
inline T nnemu_shfl_up(const char* file, int line, unsigned mask, T v, unsigned delta, int width = 32) { return nnemu_shuffle(file, line, kNnemuUp, mask, v, (int)delta, width); }
template <typename T>
inline T nnemu_shfl_xor(const char* file, int line, unsigned mask, T v, int lane_mask, int width = 32) { return nnemu_shuffle(file, line, kNnemuXor, mask, v, lane_mask, width); }

inline unsigned nnemu_ballot(const char* file, int line, unsigned mask, int predicate) {
    unsigned lane;
    const uint64_t* slots = nnemu_warp_publish(mask, predicate != 0, file, line, &lane);
    unsigned r = 0;
    for (int l = 0; l < 32; ++l)
        if (((mask >> l) & 1u) && slots[l]) r |= 1u << l;
    return r;
}

// ------------------------------------------------------------------------- bit casts, integer intrinsics
inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
inline float __uint_as_float(unsigned v) { float f; memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; memcpy(&v, &f, 4); return v; }
inline unsigned __float_as_uint(float f) { unsigned v; memcpy(&v, &f, 4); return v; }
inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, 8); return d; }
inline long long __double_as_longlong(double d) { long long v; memcpy(&v, &d, 8); return v; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) { return (unsigned long long)(((unsigned __int128)a * b) >> 64); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
inline int __ffs(int v) { return __builtin_ffs(v); }

// ------------------------------------------------------------------------- fast-math intrinsics
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }

// CUDA's overloaded min/max device functions.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// ------------------------------------------------------------------------- atomics
// Fibers of a launch share one host thread and never switch inside an atomic, so these are
// atomic with respect to every emulated thread; the builtins keep them atomic for the host too.
inline int atomicAdd(int* p, int v) { nnemu_used_atomics = 1; return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { nnemu_used_atomics = 1; return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { nnemu_used_atomics = 1; return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline int atomicSub(int* p, int v) { nnemu_used_atomics = 1; return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicSub(unsigned* p, unsigned v) { nnemu_used_atomics = 1; return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
inline int atomicExch(int* p, int v) { nnemu_used_atomics = 1; return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicExch(unsigned* p, unsigned v) { nnemu_used_atomics = 1; return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) { nnemu_used_atomics = 1; return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline float atomicExch(float* p, float v) {
    nnemu_used_atomics = 1;
    unsigned r = __atomic_exchange_n((unsigned*)p, __float_as_uint(v), __ATOMIC_RELAXED);
    return __uint_as_float(r);
}
template <typename T, typename F>
inline T nnemu_atomic_update(T* p, F f) {
    nnemu_used_atomics = 1;
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(p, &old, f(old), false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}
inline int atomicMax(int* p, int v) { return nnemu_atomic_update(p, [v](int o) { return o > v ? o : v; }); }
inline int atomicMin(int* p, int v) { return nnemu_atomic_update(p, [v](int o) { return o < v ? o : v; }); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return nnemu_atomic_update(p, [v](unsigned o) { return o > v ? o : v; }); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return nnemu_atomic_update(p, [v](unsigned o) { return o < v ? o : v; }); }
template <typename T>
inline T nnemu_cas(T* p, T expected, T desired) {
    nnemu_used_atomics = 1;
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected;
}
inline int atomicCAS(int* p, int c, int v) { return nnemu_cas(p, c, v); }
inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return nnemu_cas(p, c, v); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) { return nnemu_cas(p, c, v); }
inline float atomicAdd(float* p, float v) {
    nnemu_used_atomics = 1;
    unsigned* u = (unsigned*)p;
    unsigned old = __atomic_load_n(u, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(u, &old, __float_as_uint(__uint_as_float(old) + v), false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return __uint_as_float(old);
}
inline double atomicAdd(double* p, double v) {
    nnemu_used_atomics = 1;
    unsigned long long* u = (unsigned long long*)p;
    unsigned long long old = __atomic_load_n(u, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(u, &old, (unsigned long long)__double_as_longlong(__longlong_as_double((long long)old) + v),
                                        false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return __longlong_as_double((long long)old);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
