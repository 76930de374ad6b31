using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Backends.Simd;

/// <summary>How a row kernel reads one input: consecutive elements, or one element broadcast along the row.</summary>
internal unsafe interface ILoad<T> where T : unmanaged
{
    static abstract T Get(T* p, nint i);
    static abstract Vector128<T> Get128(T* p, nint i);
    static abstract Vector256<T> Get256(T* p, nint i);
    static abstract Vector512<T> Get512(T* p, nint i);
}

/// <summary>Inner stride 1.</summary>
internal unsafe struct Contiguous<T> : ILoad<T> where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Get(T* p, nint i) => p[i];
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Get128(T* p, nint i) => Vector128.Load(p + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Get256(T* p, nint i) => Vector256.Load(p + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Get512(T* p, nint i) => Vector512.Load(p + i);
}

/// <summary>Inner stride 0 (broadcast): a broadcast load costs the same as a vector load, so nothing is hoisted.</summary>
internal unsafe struct Broadcast<T> : ILoad<T> where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Get(T* p, nint i) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Get128(T* p, nint i) => Vector128.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Get256(T* p, nint i) => Vector256.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Get512(T* p, nint i) => Vector512.Create(*p);
}

/// <summary>
/// The shared elementwise row loops: one per shape of operation (unary, binary, select), each at the widest vector
/// width the CPU accelerates, 4× unrolled, with the tail done by one overlapping vector ending at the last element.
/// Overlap recomputes a few outputs from their inputs, which is only valid when the output does not alias an input
/// (in-place AddInPlace(a, b) has y == a: recomputing would add b twice), so aliased rows finish with narrower
/// vectors and scalars instead.
/// </summary>
internal static unsafe class SimdLoops
{
    // SAFETY (all methods): x/a/b/c point to rows that are readable at element offsets [0, n) through their loader
    // (element 0 only for Broadcast) and y to n writable elements; the caller pins the arrays.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unary<TOp, T, TX>(ref TOp op, T* x, T* y, nint n, bool aliased)
        where TOp : struct, IUnaryOperator<T> where T : unmanaged where TX : ILoad<T>
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            nint c = Vector512<T>.Count;
            for (; i <= n - 4 * c; i += 4 * c)
            {
                var r0 = op.Invoke(TX.Get512(x, i));
                var r1 = op.Invoke(TX.Get512(x, i + c));
                var r2 = op.Invoke(TX.Get512(x, i + 2 * c));
                var r3 = op.Invoke(TX.Get512(x, i + 3 * c));
                r0.Store(y + i); r1.Store(y + i + c); r2.Store(y + i + 2 * c); r3.Store(y + i + 3 * c);
            }
            for (; i <= n - c; i += c) op.Invoke(TX.Get512(x, i)).Store(y + i);
            if (i == n) return;
            if (!aliased) { op.Invoke(TX.Get512(x, n - c)).Store(y + n - c); return; }
        }
        if (Vector256.IsHardwareAccelerated && n - i >= Vector256<T>.Count)
        {
            nint c = Vector256<T>.Count;
            for (; i <= n - 4 * c; i += 4 * c)
            {
                var r0 = op.Invoke(TX.Get256(x, i));
                var r1 = op.Invoke(TX.Get256(x, i + c));
                var r2 = op.Invoke(TX.Get256(x, i + 2 * c));
                var r3 = op.Invoke(TX.Get256(x, i + 3 * c));
                r0.Store(y + i); r1.Store(y + i + c); r2.Store(y + i + 2 * c); r3.Store(y + i + 3 * c);
            }
            for (; i <= n - c; i += c) op.Invoke(TX.Get256(x, i)).Store(y + i);
            if (i == n) return;
            if (!aliased) { op.Invoke(TX.Get256(x, n - c)).Store(y + n - c); return; }
        }
        if (Vector128.IsHardwareAccelerated && n - i >= Vector128<T>.Count)
        {
            nint c = Vector128<T>.Count;
            for (; i <= n - 4 * c; i += 4 * c)
            {
                var r0 = op.Invoke(TX.Get128(x, i));
                var r1 = op.Invoke(TX.Get128(x, i + c));
                var r2 = op.Invoke(TX.Get128(x, i + 2 * c));
                var r3 = op.Invoke(TX.Get128(x, i + 3 * c));
                r0.Store(y + i); r1.Store(y + i + c); r2.Store(y + i + 2 * c); r3.Store(y + i + 3 * c);
            }
            for (; i <= n - c; i += c) op.Invoke(TX.Get128(x, i)).Store(y + i);
            if (i == n) return;
            if (!aliased) { op.Invoke(TX.Get128(x, n - c)).Store(y + n - c); return; }
        }
        for (; i < n; i++) y[i] = op.Invoke(TX.Get(x, i));
    }

    /// <summary>Unary over a row with an arbitrary inner stride (scalar).</summary>
    public static void UnaryStrided<TOp, T>(ref TOp op, T* x, nint sx, T* y, nint n)
        where TOp : struct, IUnaryOperator<T> where T : unmanaged
    {
        for (nint i = 0; i < n; i++) y[i] = op.Invoke(x[i * sx]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Binary<TOp, T, TA, TB>(ref TOp op, T* a, T* b, T* y, nint n, bool aliased)
        where TOp : struct, IBinaryOperator<T> where T : unmanaged where TA : ILoad<T> where TB : ILoad<T>
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            nint c = Vector512<T>.Count;
            for (; i <= n - 4 * c; i += 4 * c)
            {
                var r0 = op.Invoke(TA.Get512(a, i), TB.Get512(b, i));
                var r1 = op.Invoke(TA.Get512(a, i + c), TB.Get512(b, i + c));
                var r2 = op.Invoke(TA.Get512(a, i + 2 * c), TB.Get512(b, i + 2 * c));
                var r3 = op.Invoke(TA.Get512(a, i + 3 * c), TB.Get512(b, i + 3 * c));
                r0.Store(y + i); r1.Store(y + i + c); r2.Store(y + i + 2 * c); r3.Store(y + i + 3 * c);
            }
            for (; i <= n - c; i += c) op.Invoke(TA.Get512(a, i), TB.Get512(b, i)).Store(y + i);
            if (i == n) return;
            if (!aliased) { op.Invoke(TA.Get512(a, n - c), TB.Get512(b, n - c)).Store(y + n - c); return; }
        }
        if (Vector256.IsHardwareAccelerated && n - i >= Vector256<T>.Count)
        {
            nint c = Vector256<T>.Count;
            for (; i <= n - 4 * c; i += 4 * c)
            {
                var r0 = op.Invoke(TA.Get256(a, i), TB.Get256(b, i));
                var r1 = op.Invoke(TA.Get256(a, i + c), TB.Get256(b, i + c));
                var r2 = op.Invoke(TA.Get256(a, i + 2 * c), TB.Get256(b, i + 2 * c));
                var r3 = op.Invoke(TA.Get256(a, i + 3 * c), TB.Get256(b, i + 3 * c));
                r0.Store(y + i); r1.Store(y + i + c); r2.Store(y + i + 2 * c); r3.Store(y + i + 3 * c);
            }
            for (; i <= n - c; i += c) op.Invoke(TA.Get256(a, i), TB.Get256(b, i)).Store(y + i);
            if (i == n) return;
            if (!aliased) { op.Invoke(TA.Get256(a, n - c), TB.Get256(b, n - c)).Store(y + n - c); return; }
        }
        if (Vector128.IsHardwareAccelerated && n - i >= Vector128<T>.Count)
        {
            nint c = Vector128<T>.Count;
            for (; i <= n - 4 * c; i += 4 * c)
            {
                var r0 = op.Invoke(TA.Get128(a, i), TB.Get128(b, i));
                var r1 = op.Invoke(TA.Get128(a, i + c), TB.Get128(b, i + c));
                var r2 = op.Invoke(TA.Get128(a, i + 2 * c), TB.Get128(b, i + 2 * c));
                var r3 = op.Invoke(TA.Get128(a, i + 3 * c), TB.Get128(b, i + 3 * c));
                r0.Store(y + i); r1.Store(y + i + c); r2.Store(y + i + 2 * c); r3.Store(y + i + 3 * c);
            }
            for (; i <= n - c; i += c) op.Invoke(TA.Get128(a, i), TB.Get128(b, i)).Store(y + i);
            if (i == n) return;
            if (!aliased) { op.Invoke(TA.Get128(a, n - c), TB.Get128(b, n - c)).Store(y + n - c); return; }
        }
        for (; i < n; i++) y[i] = op.Invoke(TA.Get(a, i), TB.Get(b, i));
    }

    /// <summary>Binary over a row with arbitrary inner strides (scalar).</summary>
    public static void BinaryStrided<TOp, T>(ref TOp op, T* a, nint sa, T* b, nint sb, T* y, nint n)
        where TOp : struct, IBinaryOperator<T> where T : unmanaged
    {
        for (nint i = 0; i < n; i++) y[i] = op.Invoke(a[i * sa], b[i * sb]);
    }

    /// <summary>y = c != 0 ? a : b (NaN counts as true, like the scalar definition).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Select<T, TC, TA, TB>(T* c, T* a, T* b, T* y, nint n, bool aliased)
        where T : unmanaged, IFloatingPointIeee754<T> where TC : ILoad<T> where TA : ILoad<T> where TB : ILoad<T>
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            nint w = Vector512<T>.Count;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                var r0 = Vector512.ConditionalSelect(Vector512.Equals(TC.Get512(c, i), Vector512<T>.Zero), TB.Get512(b, i), TA.Get512(a, i));
                var r1 = Vector512.ConditionalSelect(Vector512.Equals(TC.Get512(c, i + w), Vector512<T>.Zero), TB.Get512(b, i + w), TA.Get512(a, i + w));
                r0.Store(y + i); r1.Store(y + i + w);
            }
            for (; i <= n - w; i += w)
                Vector512.ConditionalSelect(Vector512.Equals(TC.Get512(c, i), Vector512<T>.Zero), TB.Get512(b, i), TA.Get512(a, i)).Store(y + i);
            if (i == n) return;
            if (!aliased)
            {
                i = n - w;
                Vector512.ConditionalSelect(Vector512.Equals(TC.Get512(c, i), Vector512<T>.Zero), TB.Get512(b, i), TA.Get512(a, i)).Store(y + i);
                return;
            }
        }
        if (Vector256.IsHardwareAccelerated && n - i >= Vector256<T>.Count)
        {
            nint w = Vector256<T>.Count;
            for (; i <= n - w; i += w)
                Vector256.ConditionalSelect(Vector256.Equals(TC.Get256(c, i), Vector256<T>.Zero), TB.Get256(b, i), TA.Get256(a, i)).Store(y + i);
            if (i == n) return;
            if (!aliased)
            {
                i = n - w;
                Vector256.ConditionalSelect(Vector256.Equals(TC.Get256(c, i), Vector256<T>.Zero), TB.Get256(b, i), TA.Get256(a, i)).Store(y + i);
                return;
            }
        }
        if (Vector128.IsHardwareAccelerated && n - i >= Vector128<T>.Count)
        {
            nint w = Vector128<T>.Count;
            for (; i <= n - w; i += w)
                Vector128.ConditionalSelect(Vector128.Equals(TC.Get128(c, i), Vector128<T>.Zero), TB.Get128(b, i), TA.Get128(a, i)).Store(y + i);
            if (i == n) return;
            if (!aliased)
            {
                i = n - w;
                Vector128.ConditionalSelect(Vector128.Equals(TC.Get128(c, i), Vector128<T>.Zero), TB.Get128(b, i), TA.Get128(a, i)).Store(y + i);
                return;
            }
        }
        for (; i < n; i++) y[i] = TC.Get(c, i) != T.Zero ? TA.Get(a, i) : TB.Get(b, i);
    }
}
