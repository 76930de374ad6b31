// Shared state of the emulated CUDA driver (libcuda.so.1). Test-only: see ../README.md.
#pragma once
#include <cuda.h>
#include <stddef.h>
#include <stdint.h>
#include <string>

#include "nnemu.h"

namespace nnemu {

// Records `status` with a detailed message for the calling thread (returned by cuGetErrorString
// for that status) and prints it to stderr; returns `status` so callers can `return fail(...)`.
CUresult fail(CUresult status, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Thread-local detail of the last failure and its status.
const char* last_message();
CUresult last_status();

// Device memory (memory.cpp).
constexpr size_t kPage = 4096;
struct AllocationView {
    uint64_t start = 0;
    size_t size = 0;
    bool live = false;
    bool found = false;  // false: the address is in no allocation's region (or outside the reserved range)
};
bool in_reserved_range(uint64_t address);
// The allocation whose region (guard page, slack, data) contains `address`.
AllocationView find_allocation(uint64_t address);
// Describes `address` relative to the allocation around it (for messages).
std::string describe_address(uint64_t address);
// Checks the poisoned slack around the allocation containing `address`; on corruption returns a
// message naming the first corrupted byte, else "".
std::string check_canaries(uint64_t address);
size_t device_total_bytes();
size_t device_used_bytes();
void memory_init();

// Context (driver.cpp): whether the calling thread has the primary context current.
bool has_current_context();
void install_fault_handler();

// Launch state for the fault handler (launch.cpp).
bool thread_in_launch();
bool load_kernels(std::string* error);
[[noreturn]] void escape_launch(uint64_t fault_address);

}  // namespace nnemu

#define NNEMU_REQUIRE_CONTEXT(call)                                                                     \
    do {                                                                                                \
        if (!nnemu::has_current_context())                                                              \
            return nnemu::fail(CUDA_ERROR_INVALID_CONTEXT, "%s: no current context on this thread "     \
                               "(cuCtxSetCurrent / cuDevicePrimaryCtxRetain first)", call);             \
    } while (0)
