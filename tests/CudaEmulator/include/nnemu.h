// The contract between the emulated CUDA driver (libcuda.so.1, which owns device memory) and the
// emulated cuBLAS and cuDNN libraries, which link against it. Test-only: see tests/CudaEmulator/README.md.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Checks that [ptr, ptr + bytes) lies inside one live device allocation. Returns 0 when it does.
// Otherwise records a message (see nnemu_report) naming `call`, the address, the offending offset and
// the allocation (or "freed", or "not a device pointer") and returns nonzero.
int nnemu_check_device_range(uint64_t ptr, size_t bytes, const char* call);

// Records a failure message for the calling thread and prints it to stderr with an "nnemu:" prefix.
// The emulated libraries' error-string functions return it for the status that accompanied it.
void nnemu_report(const char* format, ...);

// The last message recorded on the calling thread, or "" when none.
const char* nnemu_last_error(void);

#ifdef __cplusplus
}
#endif
