// Test-only kernels for the emulator's own tests (tests/NativeNet.Tests/Cuda/EmulatorTests.cs):
// compiled by NVRTC like kernels/*.cu, and built into the emulated driver by the same shim.
#include "common.cuh"

// Every thread writes y[i] for i < n, and thread 0 also writes y[n + extra] (one past the end when extra is 0).
extern "C" __global__ void emu_write_past_end_f32(float* y, i64 n, i64 extra) {
    NN_GRID_STRIDE(i, n) y[i] = 1.0f;
    if (blockIdx.x == 0 && threadIdx.x == 0) y[n + extra] = 2.0f;
}

// Threads below `split` wait at a barrier the others never reach.
extern "C" __global__ void emu_divergent_sync_f32(float* y, int split) {
    if ((int)threadIdx.x < split) __syncthreads();
    y[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;
}

// y[b] = sum of x[b*n .. b*n + n) for every block b, through nn_block_reduce (warp __shfl_down_sync,
// then shared memory and a second warp pass): the helper every reduction and softmax kernel uses.
extern "C" __global__ void emu_block_sum_f32(const float* x, float* y, i64 n) {
    const float* row = x + (i64)blockIdx.x * n;
    float acc = 0.0f;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) acc += row[i];
    acc = nn_block_reduce(acc, NnSum(), 0.0f);
    if (threadIdx.x == 0) y[blockIdx.x] = acc;
}

// Reads shared memory before any thread of the block wrote it, then writes it: each block must
// see the emulator's poison (NaN), not what the previous block left.
extern "C" __global__ void emu_read_shared_first_f32(float* y) {
    __shared__ float s[64];
    y[blockIdx.x * blockDim.x + threadIdx.x] = s[threadIdx.x];
    s[threadIdx.x] = 1.0f;
}

// Every thread writes the same element without synchronization: which value lands depends on the
// order the threads run, a race the emulator's order check must report.
extern "C" __global__ void emu_last_writer_wins_f32(float* y) {
    y[0] = (float)(blockIdx.x * blockDim.x + threadIdx.x);
}

// 16 KiB of static shared memory: with more than 32 KiB of dynamic shared memory asked for at
// launch the block is over the 48 KiB limit.
extern "C" __global__ void emu_static_shared_16k_f32(float* y) {
    __shared__ float s[4096];
    s[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    y[threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}
