// Elementwise kernels: unary forward ops and their fused backward ops over contiguous buffers,
// binary ops with broadcasting over strided operands (rank <= 8), and where/select.
#include "common.cuh"

// ---------------------------------------------------------------- unary, contiguous
// Each op is a functor with `a` and `b` as optional scalar parameters.
struct OpNeg { template <typename T> __device__ T operator()(T x, T, T) const { return -x; } };
struct OpAbs { template <typename T> __device__ T operator()(T x, T, T) const { return nn_abs(x); } };
struct OpSign {
    template <typename T> __device__ T operator()(T x, T, T) const {
        return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);  // keeps 0, -0 and NaN
    }
};
struct OpExp { template <typename T> __device__ T operator()(T x, T, T) const { return nn_exp(x); } };
struct OpLog { template <typename T> __device__ T operator()(T x, T, T) const { return nn_log(x); } };
struct OpSqrt { template <typename T> __device__ T operator()(T x, T, T) const { return nn_sqrt(x); } };
struct OpReciprocal { template <typename T> __device__ T operator()(T x, T, T) const { return T(1) / x; } };
struct OpSigmoid { template <typename T> __device__ T operator()(T x, T, T) const { return nn_sigmoid(x); } };
struct OpTanh { template <typename T> __device__ T operator()(T x, T, T) const { return nn_tanh(x); } };
struct OpRelu { template <typename T> __device__ T operator()(T x, T, T) const { return x > T(0) ? x : (nn_isnan(x) ? x : T(0)); } };
struct OpLeakyRelu { template <typename T> __device__ T operator()(T x, T alpha, T) const { return x > T(0) ? x : alpha * x; } };
struct OpElu { template <typename T> __device__ T operator()(T x, T alpha, T) const { return x > T(0) ? x : alpha * nn_expm1(x); } };
struct OpSquare { template <typename T> __device__ T operator()(T x, T, T) const { return x * x; } };
struct OpPowScalar { template <typename T> __device__ T operator()(T x, T p, T) const { return nn_pow(x, p); } };
struct OpAddScalar { template <typename T> __device__ T operator()(T x, T s, T) const { return x + s; } };
struct OpMulScalar { template <typename T> __device__ T operator()(T x, T s, T) const { return x * s; } };
struct OpClip {
    template <typename T> __device__ T operator()(T x, T lo, T hi) const {
        return nn_isnan(x) ? x : (x < lo ? lo : (x > hi ? hi : x));
    }
};
// Smooth activations as PyTorch 1.13 defines them (exact GELU through erfc, softplus with beta = a, threshold = b).
struct OpGelu { template <typename T> __device__ T operator()(T x, T, T) const { return x * T(0.5) * nn_erfc(-x * T(0.70710678118654752440)); } };
struct OpGeluTanh {
    template <typename T> __device__ T operator()(T x, T, T) const {
        return T(0.5) * x * (T(1) + nn_tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)));
    }
};
struct OpSilu { template <typename T> __device__ T operator()(T x, T, T) const { return x * nn_sigmoid(x); } };
struct OpSoftplus {
    template <typename T> __device__ T operator()(T x, T beta, T threshold) const {
        T bx = x * beta;
        if (bx > threshold) return x;
        return ((bx > T(0) ? bx : T(0)) + nn_log1p(nn_exp(-nn_abs(bx)))) / beta;
    }
};

template <typename T, typename Op>
__device__ __forceinline__ void unary_kernel(const T* __restrict__ x, T* __restrict__ y, i64 n, T a, T b) {
    Op op;
    NN_GRID_STRIDE(i, n) y[i] = op(x[i], a, b);
}

// y = op(x); signature (x, y, n)
#define NN_UNARY0(name, Op)                                                                   \
    extern "C" __global__ void name##_fwd_f32(const float* x, float* y, i64 n) { unary_kernel<float, Op>(x, y, n, 0.0f, 0.0f); } \
    extern "C" __global__ void name##_fwd_f64(const double* x, double* y, i64 n) { unary_kernel<double, Op>(x, y, n, 0.0, 0.0); }
// y = op(x; a); signature (x, y, n, a)
#define NN_UNARY1(name, Op)                                                                   \
    extern "C" __global__ void name##_fwd_f32(const float* x, float* y, i64 n, float a) { unary_kernel<float, Op>(x, y, n, a, 0.0f); } \
    extern "C" __global__ void name##_fwd_f64(const double* x, double* y, i64 n, double a) { unary_kernel<double, Op>(x, y, n, a, 0.0); }
// y = op(x; a, b); signature (x, y, n, a, b)
#define NN_UNARY2(name, Op)                                                                   \
    extern "C" __global__ void name##_fwd_f32(const float* x, float* y, i64 n, float a, float b) { unary_kernel<float, Op>(x, y, n, a, b); } \
    extern "C" __global__ void name##_fwd_f64(const double* x, double* y, i64 n, double a, double b) { unary_kernel<double, Op>(x, y, n, a, b); }

NN_UNARY0(neg, OpNeg)
NN_UNARY0(abs, OpAbs)
NN_UNARY0(sign, OpSign)
NN_UNARY0(exp, OpExp)
NN_UNARY0(log, OpLog)
NN_UNARY0(sqrt, OpSqrt)
NN_UNARY0(reciprocal, OpReciprocal)
NN_UNARY0(sigmoid, OpSigmoid)
NN_UNARY0(tanh, OpTanh)
NN_UNARY0(relu, OpRelu)
NN_UNARY0(square, OpSquare)
NN_UNARY1(leaky_relu, OpLeakyRelu)
NN_UNARY1(elu, OpElu)
NN_UNARY1(pow_scalar, OpPowScalar)
NN_UNARY1(add_scalar, OpAddScalar)
NN_UNARY1(mul_scalar, OpMulScalar)
NN_UNARY2(clip, OpClip)
NN_UNARY0(gelu, OpGelu)
NN_UNARY0(gelu_tanh, OpGeluTanh)
NN_UNARY0(silu, OpSilu)
NN_UNARY2(softplus, OpSoftplus)

// ---------------------------------------------------------------- fused backward, contiguous
// dx = dy * f'(v) where v is the forward input x or the forward output y, as named.
struct GradRelu { template <typename T> __device__ T operator()(T dy, T x, T) const { return x > T(0) ? dy : T(0); } };
struct GradLeakyRelu { template <typename T> __device__ T operator()(T dy, T x, T alpha) const { return x > T(0) ? dy : alpha * dy; } };
struct GradElu { template <typename T> __device__ T operator()(T dy, T x, T alpha) const { return x > T(0) ? dy : dy * alpha * nn_exp(x); } };
struct GradSigmoid { template <typename T> __device__ T operator()(T dy, T y, T) const { return dy * y * (T(1) - y); } };
struct GradTanh { template <typename T> __device__ T operator()(T dy, T y, T) const { return dy * (T(1) - y * y); } };
struct GradGelu {
    template <typename T> __device__ T operator()(T dy, T x, T) const {
        T cdf = T(0.5) * nn_erfc(-x * T(0.70710678118654752440));
        return dy * (cdf + x * T(0.39894228040143267794) * nn_exp(T(-0.5) * x * x));
    }
};
struct GradGeluTanh {
    template <typename T> __device__ T operator()(T dy, T x, T) const {
        const T beta = T(0.79788456080286535588), kappa = T(0.044715);
        T t = nn_tanh(beta * (x + kappa * x * x * x));
        T right_derivative = T(0.5) * x * (T(1) - t * t) * beta * (T(1) + T(3) * kappa * x * x);
        return dy * (T(0.5) * (T(1) + t) + right_derivative);
    }
};
struct GradSilu {
    template <typename T> __device__ T operator()(T dy, T x, T) const {
        T s = nn_sigmoid(x);
        return dy * s * (T(1) + x * (T(1) - s));
    }
};

template <typename T, typename Op>
__device__ __forceinline__ void grad_kernel(const T* __restrict__ dy, const T* __restrict__ v, T* __restrict__ dx, i64 n, T a) {
    Op op;
    NN_GRID_STRIDE(i, n) dx[i] = op(dy[i], v[i], a);
}

// signature (dy, v, dx, n)
#define NN_GRAD0(name, Op)                                                                                    \
    extern "C" __global__ void name##_grad_f32(const float* dy, const float* v, float* dx, i64 n) { grad_kernel<float, Op>(dy, v, dx, n, 0.0f); } \
    extern "C" __global__ void name##_grad_f64(const double* dy, const double* v, double* dx, i64 n) { grad_kernel<double, Op>(dy, v, dx, n, 0.0); }
// signature (dy, v, dx, n, a)
#define NN_GRAD1(name, Op)                                                                                    \
    extern "C" __global__ void name##_grad_f32(const float* dy, const float* v, float* dx, i64 n, float a) { grad_kernel<float, Op>(dy, v, dx, n, a); } \
    extern "C" __global__ void name##_grad_f64(const double* dy, const double* v, double* dx, i64 n, double a) { grad_kernel<double, Op>(dy, v, dx, n, a); }

NN_GRAD0(relu, GradRelu)
NN_GRAD1(leaky_relu, GradLeakyRelu)
NN_GRAD1(elu, GradElu)
NN_GRAD0(sigmoid, GradSigmoid)
NN_GRAD0(tanh, GradTanh)
NN_GRAD0(gelu, GradGelu)
NN_GRAD0(gelu_tanh, GradGeluTanh)
NN_GRAD0(silu, GradSilu)

// ---------------------------------------------------------------- binary with broadcasting
// Comparisons write 1 or 0 in the element type.
struct BinAdd { template <typename T> __device__ T operator()(T a, T b) const { return a + b; } };
struct BinSub { template <typename T> __device__ T operator()(T a, T b) const { return a - b; } };
struct BinMul { template <typename T> __device__ T operator()(T a, T b) const { return a * b; } };
struct BinDiv { template <typename T> __device__ T operator()(T a, T b) const { return a / b; } };
struct BinPow { template <typename T> __device__ T operator()(T a, T b) const { return nn_pow(a, b); } };
struct BinMaximum { template <typename T> __device__ T operator()(T a, T b) const { return nn_max(a, b); } };
struct BinMinimum { template <typename T> __device__ T operator()(T a, T b) const { return nn_min(a, b); } };
struct BinEq { template <typename T> __device__ T operator()(T a, T b) const { return a == b ? T(1) : T(0); } };
struct BinNe { template <typename T> __device__ T operator()(T a, T b) const { return a != b ? T(1) : T(0); } };
struct BinLt { template <typename T> __device__ T operator()(T a, T b) const { return a < b ? T(1) : T(0); } };
struct BinLe { template <typename T> __device__ T operator()(T a, T b) const { return a <= b ? T(1) : T(0); } };
struct BinGt { template <typename T> __device__ T operator()(T a, T b) const { return a > b ? T(1) : T(0); } };
struct BinGe { template <typename T> __device__ T operator()(T a, T b) const { return a >= b ? T(1) : T(0); } };

// out[linear] over the output shape; s.stride0/stride1 address a/b (0 on broadcast dims),
// s.stride2 addresses out.
template <typename T, typename Op>
__device__ __forceinline__ void binary_strided(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, Strided3 s, i64 n) {
    Op op;
    NN_GRID_STRIDE(i, n) {
        i64 oa, ob, oo;
        nn_offsets3(s, i, oa, ob, oo);
        out[oo] = op(a[oa], b[ob]);
    }
}

template <typename T, typename Op>
__device__ __forceinline__ void binary_contig(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, i64 n) {
    Op op;
    NN_GRID_STRIDE(i, n) out[i] = op(a[i], b[i]);
}

// <op>_f32(a, b, out, Strided3 s, n): broadcasting, any strides.
// <op>_contig_f32(a, b, out, n): same shape, all contiguous.
#define NN_BINARY(name, Op)                                                                                              \
    extern "C" __global__ void name##_f32(const float* a, const float* b, float* out, Strided3 s, i64 n) { binary_strided<float, Op>(a, b, out, s, n); } \
    extern "C" __global__ void name##_f64(const double* a, const double* b, double* out, Strided3 s, i64 n) { binary_strided<double, Op>(a, b, out, s, n); } \
    extern "C" __global__ void name##_contig_f32(const float* a, const float* b, float* out, i64 n) { binary_contig<float, Op>(a, b, out, n); } \
    extern "C" __global__ void name##_contig_f64(const double* a, const double* b, double* out, i64 n) { binary_contig<double, Op>(a, b, out, n); }

NN_BINARY(add, BinAdd)
NN_BINARY(sub, BinSub)
NN_BINARY(mul, BinMul)
NN_BINARY(div, BinDiv)
NN_BINARY(pow, BinPow)
NN_BINARY(maximum, BinMaximum)
NN_BINARY(minimum, BinMinimum)
NN_BINARY(eq, BinEq)
NN_BINARY(ne, BinNe)
NN_BINARY(lt, BinLt)
NN_BINARY(le, BinLe)
NN_BINARY(gt, BinGt)
NN_BINARY(ge, BinGe)

// ---------------------------------------------------------------- where / select
// out = cond != 0 ? a : b, all four broadcast/strided: stride0 cond, stride1 a, stride2 b, stride3 out.
template <typename T>
__device__ __forceinline__ void where_strided(const T* __restrict__ cond, const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, Strided4 s, i64 n) {
    NN_GRID_STRIDE(i, n) {
        i64 oc, oa, ob, oo;
        nn_offsets4(s, i, oc, oa, ob, oo);
        out[oo] = cond[oc] != T(0) ? a[oa] : b[ob];
    }
}

extern "C" __global__ void where_f32(const float* cond, const float* a, const float* b, float* out, Strided4 s, i64 n) { where_strided<float>(cond, a, b, out, s, n); }
extern "C" __global__ void where_f64(const double* cond, const double* a, const double* b, double* out, Strided4 s, i64 n) { where_strided<double>(cond, a, b, out, s, n); }
