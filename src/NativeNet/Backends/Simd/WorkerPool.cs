using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace NativeNet.Backends.Simd;

/// <summary>One part of a parallel loop: <see cref="Run"/> is called once for every part index.</summary>
/// <remarks>Implemented by small structs that carry the loop's state, so that handing a loop to the pool allocates nothing.</remarks>
internal interface IParallelBody
{
    void Run(int part);
}

/// <summary>
/// The Simd backend's CPU parallel runtime: <see cref="SimdBackend.Threads"/> − 1 persistent worker threads plus the
/// calling thread, which always works as one of them.
/// </summary>
/// <remarks>
/// <para>Hand-off: the caller publishes a job as one 64-bit word (generation, part count, next unclaimed part) and wakes
/// only the workers that are asleep; every participant, the caller included, then claims parts by compare-and-swap on
/// that word until none is left. A worker that wakes late finds the parts already claimed and goes back to waiting, so
/// the caller never waits for a thread that has not started: it only waits for parts that are already running.</para>
/// <para>Workers spin for <see cref="SpinMicroseconds"/> after their last part (training runs op after op, each handed
/// off in turn) and then block on their own semaphore.</para>
/// <para>Nested calls (a part that itself asks for a parallel loop) and calls from a second thread while the pool is
/// busy run their parts inline, in part order. Results never depend on which thread ran a part: callers split work
/// by part index only.</para>
/// </remarks>
internal static unsafe class WorkerPool
{
    /// <summary>How long an idle worker keeps polling before it blocks.</summary>
    private const int SpinMicroseconds = 60;

    /// <summary>Most parts one call may have (the width of the part fields in the job word).</summary>
    public const int MaxParts = 0xFFFF;

    private static readonly long s_spinTicks = Math.Max(1, System.Diagnostics.Stopwatch.Frequency * SpinMicroseconds / 1_000_000);
    private static readonly Lock s_resize = new();

    /// <summary>Job word: generation (bits 32–63), parts (16–31), next part to claim (0–15).</summary>
    private static long s_job;
    private static int s_busy;
    private static int s_pending;
    private static delegate*<void*, int, void> s_invoke;
    private static void* s_state;
    private static ExceptionDispatchInfo? s_error;
    private static Worker[] s_workers = [];

    /// <summary>Worker threads currently alive (for tests and diagnostics).</summary>
    public static int WorkerCount => s_workers.Length;

    /// <summary>
    /// Calls <c>body.Run(p)</c> for every p in [0, <paramref name="parts"/>), spread over up to
    /// <see cref="SimdBackend.Threads"/> threads; returns when all parts are done. <paramref name="body"/> must be a
    /// local of the caller (its address is handed to the workers for the duration of the call).
    /// </summary>
    public static void Run<TBody>(int parts, ref TBody body) where TBody : struct, IParallelBody
    {
        int threads = SimdBackend.Threads;
        if (parts <= 1 || threads <= 1 || parts > MaxParts || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int p = 0; p < parts; p++) body.Run(p);
            return;
        }
        try
        {
            if (s_workers.Length != threads - 1) Resize(threads - 1);
            // SAFETY: body is a local of the caller's frame, which stays alive (and does not move) until every
            // claimed part has finished: Execute returns only once s_pending is back to zero.
            Execute(parts, &Invoke<TBody>, Unsafe.AsPointer(ref body));
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
        KeepAlive(ref body);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void KeepAlive<TBody>(ref TBody body) where TBody : struct { }

    // SAFETY: state is the address of a TBody that outlives the job (see Run).
    private static void Invoke<TBody>(void* state, int part) where TBody : struct, IParallelBody =>
        Unsafe.AsRef<TBody>(state).Run(part);

    private static void Execute(int parts, delegate*<void*, int, void> invoke, void* state)
    {
        s_invoke = invoke;
        s_state = state;
        s_error = null;
        Volatile.Write(ref s_pending, parts);
        long generation = (long)((ulong)Volatile.Read(ref s_job) >> 32) + 1;
        long job = (generation << 32) | ((long)parts << 16);
        Interlocked.Exchange(ref s_job, job);
        var workers = s_workers;
        int wake = Math.Min(workers.Length, parts - 1);
        for (int i = 0; i < wake; i++) workers[i].Wake();

        Participate(job);
        var spin = new SpinWait();
        while (Volatile.Read(ref s_pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
        s_error?.Throw();
    }

    /// <summary>Claims and runs parts of job <paramref name="job"/> (its generation and part count) until none is left.</summary>
    private static void Participate(long job)
    {
        long generation = job >> 32;
        int parts = (int)(job >> 16) & 0xFFFF;
        while (true)
        {
            long current = Volatile.Read(ref s_job);
            if (current >> 32 != generation) return;
            int next = (int)(current & 0xFFFF);
            if (next >= parts) return;
            if (Interlocked.CompareExchange(ref s_job, current + 1, current) != current) continue;
            // the claim succeeded, so this job is still the current one: its invoke/state are the ones published
            try
            {
                s_invoke(s_state, next);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null);
            }
            Interlocked.Decrement(ref s_pending);
        }
    }

    private static void Resize(int count)
    {
        lock (s_resize)
        {
            foreach (var w in s_workers) w.Stop();
            var fresh = new Worker[count];
            long seen = Volatile.Read(ref s_job) >> 32;
            for (int i = 0; i < count; i++) fresh[i] = new Worker(i, seen);
            s_workers = fresh;
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _signal = new(0);
        private long _seenGeneration;
        private int _sleeping;
        private volatile bool _stop;

        public Worker(int index, long seenGeneration)
        {
            _seenGeneration = seenGeneration;
            new Thread(Loop) { IsBackground = true, Name = $"NativeNet Simd worker {index + 1}" }.Start();
        }

        /// <summary>Releases the worker if it is blocked (or about to block); a spinning worker sees the job by itself.</summary>
        public void Wake()
        {
            if (Interlocked.Exchange(ref _sleeping, 0) == 1) _signal.Release();
        }

        public void Stop()
        {
            _stop = true;
            Wake();
        }

        private void Loop()
        {
            while (!_stop)
            {
                long job = WaitForJob();
                if (_stop) return;
                _seenGeneration = job >> 32;
                Participate(job);
            }
        }

        private long WaitForJob()
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            while (true)
            {
                long job = Volatile.Read(ref s_job);
                if (job >> 32 != _seenGeneration || _stop) return job;
                if (System.Diagnostics.Stopwatch.GetTimestamp() - start < s_spinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                Interlocked.Exchange(ref _sleeping, 1);
                job = Volatile.Read(ref s_job);
                if (job >> 32 != _seenGeneration || _stop)
                {
                    // a waker that already took the flag has released (or is about to release) the semaphore: consume it
                    if (Interlocked.Exchange(ref _sleeping, 0) == 0) _signal.Wait();
                    return job;
                }
                _signal.Wait();
                start = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }
    }
}
