// Plane-wise gather along a table of positions and its adjoint scatter (upsampling, max-unpooling).
// x [planes, in_plane], y / dy [planes, out_plane], idx int32 (out_plane*taps positions shared by every plane, or
// planes*out_plane*taps when per_plane != 0), w (out_plane*taps weights) or null for weight 1. Positions are checked by the host.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void plane_gather(const T* __restrict__ x, const int* __restrict__ idx, const T* __restrict__ w, T* __restrict__ y,
                                             i64 planes, i64 in_plane, i64 out_plane, i64 taps, int per_plane) {
    NN_GRID_STRIDE(i, planes * out_plane) {
        i64 p = i / out_plane, o = i % out_plane;
        const int* io = idx + ((per_plane ? p * out_plane : 0) + o) * taps;
        const T* xp = x + p * in_plane;
        T acc = T(0);
        for (i64 t = 0; t < taps; ++t) acc += w ? w[o * taps + t] * xp[io[t]] : xp[io[t]];
        y[i] = acc;
    }
}

// dx[p, idx[...]] += w * dy[p, o] with atomic adds when accumulate (repeated positions: summation order, and so the last
// bits of float results, is not deterministic), else a plain store (repeated positions must carry equal values).
template <typename T>
__device__ __forceinline__ void plane_scatter(const T* __restrict__ dy, const int* __restrict__ idx, const T* __restrict__ w, T* __restrict__ dx,
                                              i64 planes, i64 in_plane, i64 out_plane, i64 taps, int per_plane, int accumulate) {
    NN_GRID_STRIDE(i, planes * out_plane) {
        i64 p = i / out_plane, o = i % out_plane;
        const int* io = idx + ((per_plane ? p * out_plane : 0) + o) * taps;
        T* xp = dx + p * in_plane;
        for (i64 t = 0; t < taps; ++t) {
            T v = w ? w[o * taps + t] * dy[i] : dy[i];
            if (accumulate) nn_atomic_add(&xp[io[t]], v);
            else xp[io[t]] = v;
        }
    }
}

// Signatures: plane_gather (x, idx, w, y, planes, in_plane, out_plane, taps, per_plane);
//             plane_scatter (dy, idx, w, dx, planes, in_plane, out_plane, taps, per_plane, accumulate), dx zeroed by the host.
extern "C" __global__ void plane_gather_f32(const float* x, const int* idx, const float* w, float* y, i64 planes, i64 in_plane, i64 out_plane, i64 taps, int per_plane) {
    plane_gather<float>(x, idx, w, y, planes, in_plane, out_plane, taps, per_plane);
}
extern "C" __global__ void plane_gather_f64(const double* x, const int* idx, const double* w, double* y, i64 planes, i64 in_plane, i64 out_plane, i64 taps, int per_plane) {
    plane_gather<double>(x, idx, w, y, planes, in_plane, out_plane, taps, per_plane);
}
extern "C" __global__ void plane_scatter_f32(const float* dy, const int* idx, const float* w, float* dx, i64 planes, i64 in_plane, i64 out_plane, i64 taps, int per_plane,
                                             int accumulate) {
    plane_scatter<float>(dy, idx, w, dx, planes, in_plane, out_plane, taps, per_plane, accumulate);
}
extern "C" __global__ void plane_scatter_f64(const double* dy, const int* idx, const double* w, double* dx, i64 planes, i64 in_plane, i64 out_plane, i64 taps, int per_plane,
                                             int accumulate) {
    plane_scatter<double>(dy, idx, w, dx, planes, in_plane, out_plane, taps, per_plane, accumulate);
}

// indices[p, i, j] = in-plane position h*w_in + w of the maximum of max-pooling window (i, j): the first one row-major, a NaN
// winning over numbers (the rule of the CPU backends and of the gradient routing).
template <typename T>
__device__ __forceinline__ void maxpool_indices(const T* __restrict__ x, int* __restrict__ idx, i64 planes, int h, int w, int oh, int ow,
                                                int kh, int kw, int sh, int sw, int ph, int pw) {
    NN_GRID_STRIDE(i, planes * oh * ow) {
        i64 p = i / ((i64)oh * ow);
        int r = (int)(i % ((i64)oh * ow)), oi = r / ow, oj = r % ow;
        const T* xp = x + p * h * w;
        int h0 = max(0, oi * sh - ph), h1 = min(h, oi * sh - ph + kh), w0 = max(0, oj * sw - pw), w1 = min(w, oj * sw - pw + kw);
        int best = -1;
        T best_value = T(0);
        for (int a = h0; a < h1; ++a)
            for (int b = w0; b < w1; ++b) {
                T v = xp[a * w + b];
                if (best < 0 || v > best_value || (v != v && best_value == best_value)) { best = a * w + b; best_value = v; }
            }
        idx[i] = best;
    }
}

// Signature: maxpool_indices (x, idx, planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw).
extern "C" __global__ void maxpool_indices_f32(const float* x, int* idx, i64 planes, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw) {
    maxpool_indices<float>(x, idx, planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw);
}
extern "C" __global__ void maxpool_indices_f64(const double* x, int* idx, i64 planes, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw) {
    maxpool_indices<double>(x, idx, planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw);
}
