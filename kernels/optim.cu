// Fused optimizer updates, one pass over parameter p, gradient g and state buffers, all
// contiguous with n elements. Scalars have the element type and are the ones the CPU fused kernels
// (src/NativeNet/Optim) splat, computed by the host in double; each kernel performs that kernel's
// operations in its order. Weight decay `wd` is L2-style (added to the gradient); AdamW's decoupled
// decay is adam with wd = 0 and decayed = 1 - lr*wd.
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

// Adam and AdamW with the host's scalars: wd is the coupled decay (0 for AdamW), decayed = 1 - lr*wd
// for AdamW (1 for Adam), step = lr / (1 - beta1^t), inv_root_bc2 = 1 / sqrt(1 - beta2^t):
// g' = g + wd*p; p *= decayed; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*(g'*g'); p -= step*m / (sqrt(v)*inv_root_bc2 + eps).
// The operations and their order are those of the CPU fused kernel (src/NativeNet/Optim/Adam.cs), so the
// results agree bit for bit where no FMA contraction happens.
template <typename T>
__device__ __forceinline__ void adam(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v, i64 n,
                                     T wd, T decayed, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T inv_root_bc2, T eps, T step) {
    NN_GRID_STRIDE(i, n) {
        T pi = p[i];
        T gi = g[i] + wd * pi;
        pi *= decayed;
        T mi = beta1 * m[i] + one_minus_beta1 * gi;
        T vi = beta2 * v[i] + one_minus_beta2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step * mi / (nn_sqrt(vi) * inv_root_bc2 + eps);
    }
}

// s += g'^2; p -= lr * g' / (sqrt(s) + eps), g' = g + wd*p
template <typename T>
__device__ __forceinline__ void adagrad(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ s, i64 n, T lr, T eps, T wd) {
    NN_GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T si = s[i] + gi * gi;
        s[i] = si;
        p[i] -= lr * gi / (nn_sqrt(si) + eps);
    }
}

// s = d*s + (1-d)*(g'*g'); p -= lr * g' / (sqrt(s) + eps), g' = g + wd*p; 1-d comes from the host as in the CPU kernel.
template <typename T>
__device__ __forceinline__ void rmsprop(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ s, i64 n, T lr, T wd, T d, T one_minus_d, T eps) {
    NN_GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T si = d * s[i] + one_minus_d * (gi * gi);
        s[i] = si;
        p[i] -= lr * gi / (nn_sqrt(si) + eps);
    }
}

// CS231n Nesterov: g' = g + wd*p; v_old = v; v = rho*v - lr*g'; p += (1+rho)*v - rho*v_old (1+rho from the host).
template <typename T>
__device__ __forceinline__ void nesterov_cs231n(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ v, i64 n, T lr, T wd, T rho, T one_plus_rho) {
    NN_GRID_STRIDE(i, n) {
        T pi = p[i];
        T gi = g[i] + wd * pi;
        T v_old = v[i];
        T vi = rho * v_old - lr * gi;
        v[i] = vi;
        p[i] = pi + (one_plus_rho * vi - rho * v_old);
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
    extern "C" __global__ void adam_step_##sfx(T* p, const T* g, T* m, T* v, i64 n, T wd, T decayed, T beta1, T one_minus_beta1, T beta2, \
                                               T one_minus_beta2, T inv_root_bc2, T eps, T step) {                                 \
        adam<T>(p, g, m, v, n, wd, decayed, beta1, one_minus_beta1, beta2, one_minus_beta2, inv_root_bc2, eps, step);            \
    }                                                                                                                              \
    extern "C" __global__ void nesterov_cs231n_step_##sfx(T* p, const T* g, T* v, i64 n, T lr, T wd, T rho, T one_plus_rho) {      \
        nesterov_cs231n<T>(p, g, v, n, lr, wd, rho, one_plus_rho);                                                                 \
    }                                                                                                                              \
    extern "C" __global__ void adagrad_step_##sfx(T* p, const T* g, T* s, i64 n, T lr, T eps, T wd) { adagrad<T>(p, g, s, n, lr, eps, wd); } \
    extern "C" __global__ void rmsprop_step_##sfx(T* p, const T* g, T* s, i64 n, T lr, T wd, T d, T one_minus_d, T eps) { rmsprop<T>(p, g, s, n, lr, wd, d, one_minus_d, eps); }

NN_OPTIM(float, f32)
NN_OPTIM(double, f64)
