// Softmax family along one axis of a contiguous tensor viewed as [outer, dim, inner].
// One block per (outer, inner) slice, threads cooperate along dim; blockDim.x a multiple of 32.
// The max is subtracted before exponentiating, so huge logits do not overflow.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void softmax_fwd(const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 dim, i64 inner, bool log_space) {
    NN_BLOCK_STRIDE(s, outer * inner) {
        i64 o = s / inner, in = s % inner;
        i64 base = o * dim * inner + in;
        T m = nn_neg_inf<T>();
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) m = nn_max(m, x[base + d * inner]);
        m = nn_block_reduce(m, NnMax(), nn_neg_inf<T>());
        T sum = T(0);
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) sum += nn_exp(x[base + d * inner] - m);
        sum = nn_block_reduce(sum, NnSum(), T(0));
        if (log_space) {
            // (x - m) - log(sum), not x - (m + log(sum)): with huge logits m absorbs log(sum) (3e38 + ln 2 == 3e38)
            T log_sum = nn_log(sum);
            for (i64 d = threadIdx.x; d < dim; d += blockDim.x) y[base + d * inner] = (x[base + d * inner] - m) - log_sum;
        } else {
            T inv = T(1) / sum;
            for (i64 d = threadIdx.x; d < dim; d += blockDim.x) y[base + d * inner] = nn_exp(x[base + d * inner] - m) * inv;
        }
    }
}

// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
template <typename T>
__device__ __forceinline__ void softmax_bwd(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, i64 outer, i64 dim, i64 inner, bool log_space) {
    NN_BLOCK_STRIDE(s, outer * inner) {
        i64 o = s / inner, in = s % inner;
        i64 base = o * dim * inner + in;
        T acc = T(0);
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) {
            i64 k = base + d * inner;
            acc += log_space ? dy[k] : dy[k] * y[k];
        }
        acc = nn_block_reduce(acc, NnSum(), T(0));
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) {
            i64 k = base + d * inner;
            dx[k] = log_space ? dy[k] - nn_exp(y[k]) * acc : y[k] * (dy[k] - acc);
        }
    }
}

// Signatures: *_fwd (x, y, outer, dim, inner); *_bwd (y, dy, dx, outer, dim, inner) with y the forward output.
extern "C" __global__ void softmax_fwd_f32(const float* x, float* y, i64 outer, i64 dim, i64 inner) { softmax_fwd<float>(x, y, outer, dim, inner, false); }
extern "C" __global__ void softmax_fwd_f64(const double* x, double* y, i64 outer, i64 dim, i64 inner) { softmax_fwd<double>(x, y, outer, dim, inner, false); }
extern "C" __global__ void log_softmax_fwd_f32(const float* x, float* y, i64 outer, i64 dim, i64 inner) { softmax_fwd<float>(x, y, outer, dim, inner, true); }
extern "C" __global__ void log_softmax_fwd_f64(const double* x, double* y, i64 outer, i64 dim, i64 inner) { softmax_fwd<double>(x, y, outer, dim, inner, true); }
extern "C" __global__ void softmax_bwd_f32(const float* y, const float* dy, float* dx, i64 outer, i64 dim, i64 inner) { softmax_bwd<float>(y, dy, dx, outer, dim, inner, false); }
extern "C" __global__ void softmax_bwd_f64(const double* y, const double* dy, double* dx, i64 outer, i64 dim, i64 inner) { softmax_bwd<double>(y, dy, dx, outer, dim, inner, false); }
extern "C" __global__ void log_softmax_bwd_f32(const float* y, const float* dy, float* dx, i64 outer, i64 dim, i64 inner) { softmax_bwd<float>(y, dy, dx, outer, dim, inner, true); }
extern "C" __global__ void log_softmax_bwd_f64(const double* y, const double* dy, double* dx, i64 outer, i64 dim, i64 inner) { softmax_bwd<double>(y, dy, dx, outer, dim, inner, true); }

// ---------------------------------------------------------------- softmax cross-entropy from logits
// logits [rows, classes] contiguous, labels int32 [rows]. A label outside [0, classes) (an ignore
// index such as -100) gives loss 0 and gradient 0 for its row.
// fwd: loss[row] = logsumexp(logits[row]) - logits[row, label]
template <typename T>
__device__ __forceinline__ void xent_fwd(const T* __restrict__ logits, const int* __restrict__ labels, T* __restrict__ loss, i64 rows, i64 classes) {
    NN_BLOCK_STRIDE(r, rows) {
        const T* z = logits + r * classes;
        T m = nn_neg_inf<T>();
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) m = nn_max(m, z[c]);
        m = nn_block_reduce(m, NnMax(), nn_neg_inf<T>());
        T sum = T(0);
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) sum += nn_exp(z[c] - m);
        sum = nn_block_reduce(sum, NnSum(), T(0));
        if (threadIdx.x == 0) {
            int label = labels[r];
            // log(sum) - (z[label] - m): the same grouping as log-softmax, so huge logits keep log(sum)
            loss[r] = (label >= 0 && label < classes) ? nn_log(sum) - (z[label] - m) : T(0);
        }
    }
}

// bwd: dlogits[row, c] = (softmax(logits[row])[c] - [c == label]) * dloss[row * dloss_stride]
// (dloss_stride 0 broadcasts one scalar, e.g. 1/rows for a mean).
template <typename T>
__device__ __forceinline__ void xent_bwd(const T* __restrict__ logits, const int* __restrict__ labels, const T* __restrict__ dloss, i64 dloss_stride,
                                         T* __restrict__ dlogits, i64 rows, i64 classes) {
    NN_BLOCK_STRIDE(r, rows) {
        const T* z = logits + r * classes;
        T* g = dlogits + r * classes;
        int label = labels[r];
        bool valid = label >= 0 && label < classes;
        T m = nn_neg_inf<T>();
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) m = nn_max(m, z[c]);
        m = nn_block_reduce(m, NnMax(), nn_neg_inf<T>());
        T sum = T(0);
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) sum += nn_exp(z[c] - m);
        sum = nn_block_reduce(sum, NnSum(), T(0));
        T scale = valid ? dloss[r * dloss_stride] / sum : T(0);
        T hot = valid ? dloss[r * dloss_stride] : T(0);
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) {
            T v = nn_exp(z[c] - m) * scale;
            g[c] = (c == label) ? v - hot : v;
        }
    }
}

// Signatures: softmax_xent_fwd (logits, labels, loss, rows, classes);
//             softmax_xent_bwd (logits, labels, dloss, dloss_stride, dlogits, rows, classes).
extern "C" __global__ void softmax_xent_fwd_f32(const float* logits, const int* labels, float* loss, i64 rows, i64 classes) { xent_fwd<float>(logits, labels, loss, rows, classes); }
extern "C" __global__ void softmax_xent_fwd_f64(const double* logits, const int* labels, double* loss, i64 rows, i64 classes) { xent_fwd<double>(logits, labels, loss, rows, classes); }
extern "C" __global__ void softmax_xent_bwd_f32(const float* logits, const int* labels, const float* dloss, i64 dloss_stride, float* dlogits, i64 rows, i64 classes) {
    xent_bwd<float>(logits, labels, dloss, dloss_stride, dlogits, rows, classes);
}
extern "C" __global__ void softmax_xent_bwd_f64(const double* logits, const int* labels, const double* dloss, i64 dloss_stride, double* dlogits, i64 rows, i64 classes) {
    xent_bwd<double>(logits, labels, dloss, dloss_stride, dlogits, rows, classes);
}
