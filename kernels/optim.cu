// Fused optimizer updates, one pass over parameter p, gradient g and state buffers, all
// contiguous with n elements. Scalars have the element type. Weight decay `wd` is L2-style
// (added to the gradient) except in adamw, where it is decoupled (p *= 1 - lr*wd).
#include "common.cuh"

// p -= lr * (g + wd*p)
template <typename T>
__device__ __forceinline__ void sgd(T* __restrict__ p, const T* __restrict__ g, i64 n, T lr, T wd) {
    NN_GRID_STRIDE(i, n) p[i] -= lr * (g[i] + wd * p[i]);
}

// v = mu*v + (1-dampening)*g'; p -= lr * (nesterov ? g' + mu*v : v), PyTorch's formulation.
template <typename T>
__device__ __forceinline__ void momentum(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ v, i64 n, T lr, T mu, T dampening, T wd, bool nesterov) {
    NN_GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T vi = mu * v[i] + (T(1) - dampening) * gi;
        v[i] = vi;
        p[i] -= lr * (nesterov ? gi + mu * vi : vi);
    }
}

// Adam with bias corrections bc1 = 1 - beta1^t, bc2 = 1 - beta2^t computed by the host:
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr * (m/bc1) / (sqrt(v/bc2) + eps).
template <typename T>
__device__ __forceinline__ void adam(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v, i64 n,
                                     T lr, T beta1, T beta2, T eps, T wd, T bc1, T bc2, bool decoupled) {
    NN_GRID_STRIDE(i, n) {
        T pi = p[i];
        T gi = g[i];
        if (decoupled) pi -= lr * wd * pi; else gi += wd * pi;
        T mi = beta1 * m[i] + (T(1) - beta1) * gi;
        T vi = beta2 * v[i] + (T(1) - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - lr * (mi / bc1) / (nn_sqrt(vi / bc2) + eps);
    }
}

// s += g^2; p -= lr * g / (sqrt(s) + eps)
template <typename T>
__device__ __forceinline__ void adagrad(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ s, i64 n, T lr, T eps, T wd) {
    NN_GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T si = s[i] + gi * gi;
        s[i] = si;
        p[i] -= lr * gi / (nn_sqrt(si) + eps);
    }
}

// s = alpha*s + (1-alpha)*g^2; p -= lr * g / (sqrt(s) + eps)
template <typename T>
__device__ __forceinline__ void rmsprop(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ s, i64 n, T lr, T alpha, T eps, T wd) {
    NN_GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T si = alpha * s[i] + (T(1) - alpha) * gi * gi;
        s[i] = si;
        p[i] -= lr * gi / (nn_sqrt(si) + eps);
    }
}

#define NN_OPTIM(T, sfx)                                                                                                           \
    extern "C" __global__ void sgd_step_##sfx(T* p, const T* g, i64 n, T lr, T wd) { sgd<T>(p, g, n, lr, wd); }                  \
    extern "C" __global__ void momentum_step_##sfx(T* p, const T* g, T* v, i64 n, T lr, T mu, T dampening, T wd) {                \
        momentum<T>(p, g, v, n, lr, mu, dampening, wd, false);                                                                     \
    }                                                                                                                              \
    extern "C" __global__ void nesterov_step_##sfx(T* p, const T* g, T* v, i64 n, T lr, T mu, T dampening, T wd) {                \
        momentum<T>(p, g, v, n, lr, mu, dampening, wd, true);                                                                      \
    }                                                                                                                              \
    extern "C" __global__ void adam_step_##sfx(T* p, const T* g, T* m, T* v, i64 n, T lr, T beta1, T beta2, T eps, T wd, T bc1, T bc2) { \
        adam<T>(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2, false);                                                        \
    }                                                                                                                              \
    extern "C" __global__ void adamw_step_##sfx(T* p, const T* g, T* m, T* v, i64 n, T lr, T beta1, T beta2, T eps, T wd, T bc1, T bc2) { \
        adam<T>(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2, true);                                                         \
    }                                                                                                                              \
    extern "C" __global__ void adagrad_step_##sfx(T* p, const T* g, T* s, i64 n, T lr, T eps, T wd) { adagrad<T>(p, g, s, n, lr, eps, wd); } \
    extern "C" __global__ void rmsprop_step_##sfx(T* p, const T* g, T* s, i64 n, T lr, T alpha, T eps, T wd) { rmsprop<T>(p, g, s, n, lr, alpha, eps, wd); }

NN_OPTIM(float, f32)
NN_OPTIM(double, f64)
