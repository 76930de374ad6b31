// Fill, dtype casts and strided copies.
#include "common.cuh"

// fill (y, n, value)
extern "C" __global__ void fill_f32(float* y, i64 n, float value) { NN_GRID_STRIDE(i, n) y[i] = value; }
extern "C" __global__ void fill_f64(double* y, i64 n, double value) { NN_GRID_STRIDE(i, n) y[i] = value; }
extern "C" __global__ void fill_i32(int* y, i64 n, int value) { NN_GRID_STRIDE(i, n) y[i] = value; }

// cast_<from>_<to> (x, y, n), contiguous
extern "C" __global__ void cast_f32_f64(const float* x, double* y, i64 n) { NN_GRID_STRIDE(i, n) y[i] = (double)x[i]; }
extern "C" __global__ void cast_f64_f32(const double* x, float* y, i64 n) { NN_GRID_STRIDE(i, n) y[i] = (float)x[i]; }
extern "C" __global__ void cast_i32_f32(const int* x, float* y, i64 n) { NN_GRID_STRIDE(i, n) y[i] = (float)x[i]; }
extern "C" __global__ void cast_i32_f64(const int* x, double* y, i64 n) { NN_GRID_STRIDE(i, n) y[i] = (double)x[i]; }

// strided_copy (x, y, Strided2 s, n): y[s.stride1 . c] = x[s.stride0 . c] for every coordinate c of
// s.shape (rank <= 8, n = product of shape). Makes views contiguous, transposes, expands
// broadcasts (stride 0 in x) and writes into slices (strided y). Base offsets go on the pointers.
template <typename T>
__device__ __forceinline__ void strided_copy(const T* __restrict__ x, T* __restrict__ y, Strided2 s, i64 n) {
    NN_GRID_STRIDE(i, n) {
        i64 ox, oy;
        nn_offsets2(s, i, ox, oy);
        y[oy] = x[ox];
    }
}

extern "C" __global__ void strided_copy_f32(const float* x, float* y, Strided2 s, i64 n) { strided_copy<float>(x, y, s, n); }
extern "C" __global__ void strided_copy_f64(const double* x, double* y, Strided2 s, i64 n) { strided_copy<double>(x, y, s, n); }
extern "C" __global__ void strided_copy_i32(const int* x, int* y, Strided2 s, i64 n) { strided_copy<int>(x, y, s, n); }
