using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Backends.Simd;

/// <summary>
/// The float operations of one vector width, as static members, so that a float kernel (e.g. <see cref="FloatGelu"/>)
/// is written once over <typeparamref name="TV"/> and compiled per width (.NET's own ISimdVector is not public).
/// </summary>
internal unsafe interface IFloatLanes<TV> where TV : struct
{
    /// <summary>Lanes of one vector.</summary>
    static abstract int Count { get; }
    static abstract TV Load(float* source);
    static abstract void Store(TV value, float* destination);
    static abstract TV Create(float value);
    /// <summary>0, 1, 2, … in the lanes.</summary>
    static abstract TV Indices { get; }
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    /// <summary>1/d within about one ulp (for normal, finite d).</summary>
    static abstract TV Reciprocal(TV d);
    /// <summary>a·b + c with one rounding.</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);
    /// <summary>a·b − c with one rounding.</summary>
    static abstract TV MultiplySubtract(TV a, TV b, TV c);
    static abstract TV Abs(TV x);
    /// <summary>The hardware minimum: for a NaN operand either operand may come back, so callers propagate NaN otherwise.</summary>
    static abstract TV MinNative(TV a, TV b);
    /// <summary>The IEEE maximum: NaN propagates.</summary>
    static abstract TV Max(TV a, TV b);
    /// <summary>The largest lane (NaN when a lane is NaN).</summary>
    static abstract float MaxAcross(TV x);
    /// <summary>The sum of the lanes.</summary>
    static abstract float SumAcross(TV x);
    /// <summary>Rounds to the nearest integer, ties to even.</summary>
    static abstract TV Round(TV x);
    /// <summary>All bits set in the lanes where a &lt; b.</summary>
    static abstract TV LessThan(TV a, TV b);
    /// <summary>a where the mask is set, b elsewhere.</summary>
    static abstract TV Select(TV mask, TV a, TV b);
    /// <summary>y·2ⁿ for integral n in [−252, 254], with gradual underflow to subnormals and zero.</summary>
    static abstract TV ScaleByPowerOfTwo(TV y, TV n);
}

internal readonly unsafe struct FloatLanes512 : IFloatLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Indices => Vector512<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Create(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Reciprocal(Vector512<float> d)
    {
        if (!Avx512F.IsSupported) return Vector512<float>.One / d;
        // vrcp14ps (within 2⁻¹⁴) and one Newton step, 2⁻²⁸ before rounding: three cheap operations against a division
        var r = Avx512F.Reciprocal14(d);
        return Vector512.FusedMultiplyAdd(r, Vector512.FusedMultiplyAdd(-d, r, Vector512<float>.One), r);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplySubtract(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, -c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> x) => Vector512.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MinNative(Vector512<float> a, Vector512<float> b) => Vector512.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector512<float> x) => FloatLanes256.MaxAcross(Vector256.Max(x.GetLower(), x.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(Vector512<float> x) => Vector512.Sum(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> x) => Vector512.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ScaleByPowerOfTwo(Vector512<float> y, Vector512<float> n)
    {
        if (Avx512F.IsSupported) return Avx512F.Scale(y, n); // vscalefps
        var half = Vector512.Floor(n * Vector512.Create(0.5f));
        var low = ((Vector512.ConvertToInt32(half) + Vector512.Create(127)) << 23).AsSingle();
        var high = ((Vector512.ConvertToInt32(n - half) + Vector512.Create(127)) << 23).AsSingle();
        return y * low * high;
    }
}

internal readonly unsafe struct FloatLanes256 : IFloatLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Indices => Vector256<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Create(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Reciprocal(Vector256<float> d)
    {
        if (!Avx512F.VL.IsSupported) return Vector256<float>.One / d;
        var r = Avx512F.VL.Reciprocal14(d);
        return Vector256.FusedMultiplyAdd(r, Vector256.FusedMultiplyAdd(-d, r, Vector256<float>.One), r);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplySubtract(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, -c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MinNative(Vector256<float> a, Vector256<float> b) => Vector256.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector256<float> x) => FloatLanes128.MaxAcross(Vector128.Max(x.GetLower(), x.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(Vector256<float> x) => Vector256.Sum(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> x) => Vector256.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ScaleByPowerOfTwo(Vector256<float> y, Vector256<float> n)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(y, n);
        var half = Vector256.Floor(n * Vector256.Create(0.5f));
        var low = ((Vector256.ConvertToInt32(half) + Vector256.Create(127)) << 23).AsSingle();
        var high = ((Vector256.ConvertToInt32(n - half) + Vector256.Create(127)) << 23).AsSingle();
        return y * low * high;
    }
}

internal readonly unsafe struct FloatLanes128 : IFloatLanes<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Indices => Vector128<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* source) => Vector128.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Create(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Reciprocal(Vector128<float> d)
    {
        if (!Avx512F.VL.IsSupported) return Vector128<float>.One / d;
        var r = Avx512F.VL.Reciprocal14(d);
        return Vector128.FusedMultiplyAdd(r, Vector128.FusedMultiplyAdd(-d, r, Vector128<float>.One), r);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplySubtract(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, -c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> x) => Vector128.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MinNative(Vector128<float> a, Vector128<float> b) => Vector128.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector128<float> x) => float.Max(float.Max(x.GetElement(0), x.GetElement(1)), float.Max(x.GetElement(2), x.GetElement(3)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(Vector128<float> x) => Vector128.Sum(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> x) => Vector128.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ScaleByPowerOfTwo(Vector128<float> y, Vector128<float> n)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(y, n);
        var half = Vector128.Floor(n * Vector128.Create(0.5f));
        var low = ((Vector128.ConvertToInt32(half) + Vector128.Create(127)) << 23).AsSingle();
        var high = ((Vector128.ConvertToInt32(n - half) + Vector128.Create(127)) << 23).AsSingle();
        return y * low * high;
    }
}

/// <summary>Float functions on lanes, written once over <see cref="IFloatLanes{TV}"/>.</summary>
internal static class FloatLaneMath
{
    /// <summary>
    /// e^(x + xLow) for x ≤ 88 and |xLow| ≤ 2⁻¹⁰ (an exact split of the argument, e.g. by FMA, or zero); x below about
    /// −103.3 gives 0 and −∞ must be clamped by the caller (e.g. to −150). x = n·ln 2 + r with ln 2 = 0.693359375 −
    /// 2.12194440e-4, the first part short enough that n·0.693359375 and x − n·0.693359375 are exact (Cody–Waite), then
    /// Cephes' expf polynomial for e^r (|r| ≤ ln 2 / 2, about 1 ulp) and 2ⁿ with gradual underflow. NaN propagates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TL, TV>(TV x, TV xLow) where TL : IFloatLanes<TV> where TV : struct
    {
        var n = TL.Round(TL.Multiply(x, TL.Create(1.44269504088896341f)));
        var r = TL.MultiplyAdd(n, TL.Create(-0.693359375f), x);
        r = TL.Add(TL.MultiplyAdd(n, TL.Create(2.12194440e-4f), r), xLow);
        var p = TL.MultiplyAdd(TL.Create(1.9875691500e-4f), r, TL.Create(1.3981999507e-3f));
        p = TL.MultiplyAdd(p, r, TL.Create(8.3334519073e-3f));
        p = TL.MultiplyAdd(p, r, TL.Create(4.1665795894e-2f));
        p = TL.MultiplyAdd(p, r, TL.Create(1.6666665459e-1f));
        p = TL.MultiplyAdd(p, r, TL.Create(5.0000001201e-1f));
        return TL.ScaleByPowerOfTwo(TL.Add(TL.MultiplyAdd(p, TL.Multiply(r, r), r), TL.Create(1f)), n);
    }
}
