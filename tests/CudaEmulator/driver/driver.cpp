// The emulated CUDA driver: one device, its primary context, streams (work runs synchronously on
// the calling thread, which honours stream order), events (host time), error names and strings,
// and the SIGSEGV handler that turns a fault inside an emulated kernel into CUDA_ERROR_ILLEGAL_ADDRESS.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <mutex>
#include <set>

#include "internal.h"

namespace nnemu {
namespace {

thread_local char message[2048];
thread_local CUresult message_status = CUDA_SUCCESS;
thread_local bool context_current = false;

std::atomic<bool> initialized{false};
std::atomic<int> primary_refs{0};
int primary_context_tag;  // its address is the primary context handle
CUcontext primary_context() { return (CUcontext)&primary_context_tag; }

struct Stream { int tag; };
struct Event { double ms = 0; bool recorded = false; };
std::mutex handles_mu;
std::set<void*> streams, events;

double now_ms() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void vrecord(const char* format, va_list args) {
    vsnprintf(message, sizeof message, format, args);
    fprintf(stderr, "nnemu: %s\n", message);
}

}  // namespace

CUresult fail(CUresult status, const char* format, ...) {
    va_list args;
    va_start(args, format);
    vrecord(format, args);
    va_end(args);
    message_status = status;
    return status;
}

const char* last_message() { return message; }
CUresult last_status() { return message_status; }
bool has_current_context() { return context_current && primary_refs.load() > 0; }

}  // namespace nnemu

using namespace nnemu;

extern "C" void nnemu_report(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vrecord(format, args);
    va_end(args);
    message_status = CUDA_SUCCESS;  // the calling library pairs it with its own status
}

extern "C" const char* nnemu_last_error(void) { return message; }

// Lets NativeNet (and anyone) tell the emulator from a real driver without relying on the name alone.
extern "C" int nnemu_is_emulator(void) { return 1; }

CUresult nnemu_check_stream(CUstream s, const char* call) {
    if (s == nullptr) return CUDA_SUCCESS;
    std::lock_guard<std::mutex> lock(handles_mu);
    if (!streams.count((void*)s)) return fail(CUDA_ERROR_INVALID_HANDLE, "%s: %p is not a live stream (destroyed?)", call, (void*)s);
    return CUDA_SUCCESS;
}

#define REQUIRE_INIT(call) \
    do { if (!initialized.load()) return fail(CUDA_ERROR_NOT_INITIALIZED, "%s: cuInit was not called", call); } while (0)
#define REQUIRE_DEVICE(call, dev) \
    do { if ((dev) != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "%s: device %d does not exist (the emulator has one device, 0)", call, (int)(dev)); } while (0)

extern "C" CUresult cuInit(unsigned int flags) {
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuInit: flags must be 0, got %u", flags);
    memory_init();
    std::string error;
    if (!load_kernels(&error)) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit: the emulator's kernels: %s", error.c_str());
    install_fault_handler();
    initialized = true;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDriverGetVersion(int* version) {
    if (!version) return fail(CUDA_ERROR_INVALID_VALUE, "cuDriverGetVersion: NULL");
    *version = CUDA_VERSION;
    return CUDA_SUCCESS;
}

static const char* error_name(CUresult e) {
    switch (e) {
#define N(x) case x: return #x;
        N(CUDA_SUCCESS) N(CUDA_ERROR_INVALID_VALUE) N(CUDA_ERROR_OUT_OF_MEMORY) N(CUDA_ERROR_NOT_INITIALIZED)
        N(CUDA_ERROR_DEINITIALIZED) N(CUDA_ERROR_NO_DEVICE) N(CUDA_ERROR_INVALID_DEVICE) N(CUDA_ERROR_INVALID_IMAGE)
        N(CUDA_ERROR_INVALID_CONTEXT) N(CUDA_ERROR_NO_BINARY_FOR_GPU) N(CUDA_ERROR_INVALID_PTX)
        N(CUDA_ERROR_UNSUPPORTED_PTX_VERSION) N(CUDA_ERROR_INVALID_HANDLE) N(CUDA_ERROR_NOT_FOUND) N(CUDA_ERROR_NOT_READY)
        N(CUDA_ERROR_ILLEGAL_ADDRESS) N(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES) N(CUDA_ERROR_LAUNCH_TIMEOUT)
        N(CUDA_ERROR_LAUNCH_FAILED) N(CUDA_ERROR_NOT_SUPPORTED) N(CUDA_ERROR_UNKNOWN) N(CUDA_ERROR_INVALID_SOURCE)
        N(CUDA_ERROR_FILE_NOT_FOUND) N(CUDA_ERROR_ILLEGAL_INSTRUCTION) N(CUDA_ERROR_MISALIGNED_ADDRESS)
#undef N
        default: return nullptr;
    }
}

static const char* error_description(CUresult e) {
    switch (e) {
        case CUDA_SUCCESS: return "no error";
        case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
        case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
        case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
        case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
        case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
        case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
        case CUDA_ERROR_LAUNCH_FAILED: return "unspecified launch failure";
        case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
        case CUDA_ERROR_INVALID_PTX: return "a PTX JIT compilation failed";
        default: return "emulated CUDA error";
    }
}

extern "C" CUresult cuGetErrorName(CUresult e, const char** name) {
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    const char* n = error_name(e);
    if (!n) { *name = nullptr; return CUDA_ERROR_INVALID_VALUE; }
    *name = n;
    return CUDA_SUCCESS;
}

// The detailed message of this thread's last failure when it had this status, else the generic text.
extern "C" CUresult cuGetErrorString(CUresult e, const char** text) {
    if (!text) return CUDA_ERROR_INVALID_VALUE;
    if (!error_name(e)) { *text = nullptr; return CUDA_ERROR_INVALID_VALUE; }
    *text = (e != CUDA_SUCCESS && e == message_status && message[0]) ? message : error_description(e);
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDeviceGetCount(int* count) {
    REQUIRE_INIT("cuDeviceGetCount");
    if (!count) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetCount: NULL");
    *count = 1;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    REQUIRE_INIT("cuDeviceGet");
    if (!device) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGet: NULL");
    REQUIRE_DEVICE("cuDeviceGet", ordinal);
    *device = 0;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDeviceGetName(char* name, int length, CUdevice dev) {
    REQUIRE_INIT("cuDeviceGetName");
    REQUIRE_DEVICE("cuDeviceGetName", dev);
    if (!name || length <= 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetName: NULL or length %d", length);
    snprintf(name, (size_t)length, "%s", "NativeNet emulated CUDA device (CPU, tests only)");
    return CUDA_SUCCESS;
}

// The multiprocessor count is small on purpose: launch shapes scale with it, and every emulated
// thread costs a fiber switch.
extern "C" CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice dev) {
    REQUIRE_INIT("cuDeviceGetAttribute");
    REQUIRE_DEVICE("cuDeviceGetAttribute", dev);
    if (!value) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute: NULL");
    switch (attribute) {
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *value = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *value = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *value = 64; break;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *value = 2147483647; break;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *value = 65535; break;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *value = 65535; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *value = 49152; break;
        case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *value = 32; break;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = 4; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *value = 9; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *value = 0; break;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *value = 2048; break;
        case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *value = 1000000; break;
        case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: *value = 65536; break;
        case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *value = 1; break;
        default:
            return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute: attribute %d is not emulated", (int)attribute);
    }
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
    REQUIRE_INIT("cuDeviceTotalMem_v2");
    REQUIRE_DEVICE("cuDeviceTotalMem_v2", dev);
    if (!bytes) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceTotalMem_v2: NULL");
    *bytes = device_total_bytes();
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice dev) {
    REQUIRE_INIT("cuDevicePrimaryCtxRetain");
    REQUIRE_DEVICE("cuDevicePrimaryCtxRetain", dev);
    if (!ctx) return fail(CUDA_ERROR_INVALID_VALUE, "cuDevicePrimaryCtxRetain: NULL");
    primary_refs++;
    *ctx = primary_context();
    return CUDA_SUCCESS;
}

extern "C" CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    REQUIRE_INIT("cuDevicePrimaryCtxRelease_v2");
    REQUIRE_DEVICE("cuDevicePrimaryCtxRelease_v2", dev);
    int before = primary_refs.load();
    while (before > 0 && !primary_refs.compare_exchange_weak(before, before - 1)) {}
    if (before <= 0) return fail(CUDA_ERROR_INVALID_CONTEXT, "cuDevicePrimaryCtxRelease_v2: the primary context is not retained");
    return CUDA_SUCCESS;
}

extern "C" CUresult cuCtxSetCurrent(CUcontext ctx) {
    REQUIRE_INIT("cuCtxSetCurrent");
    if (ctx == nullptr) { context_current = false; return CUDA_SUCCESS; }
    if (ctx != primary_context() || primary_refs.load() <= 0)
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent: %p is not the retained primary context", (void*)ctx);
    context_current = true;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuCtxSynchronize(void) {
    NNEMU_REQUIRE_CONTEXT("cuCtxSynchronize");
    return CUDA_SUCCESS;
}

extern "C" CUresult cuStreamCreate(CUstream* stream, unsigned int flags) {
    NNEMU_REQUIRE_CONTEXT("cuStreamCreate");
    if (!stream) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate: NULL");
    if (flags & ~1u) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate: unknown flags 0x%x", flags);
    Stream* s = new Stream();
    std::lock_guard<std::mutex> lock(handles_mu);
    streams.insert(s);
    *stream = (CUstream)s;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuStreamDestroy_v2(CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuStreamDestroy_v2");
    std::lock_guard<std::mutex> lock(handles_mu);
    if (!streams.erase((void*)stream))
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy_v2: %p is not a live stream (destroyed twice?)", (void*)stream);
    delete (Stream*)stream;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuStreamSynchronize(CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuStreamSynchronize");
    return nnemu_check_stream(stream, "cuStreamSynchronize");
}

extern "C" CUresult cuEventCreate(CUevent* event, unsigned int flags) {
    NNEMU_REQUIRE_CONTEXT("cuEventCreate");
    if (!event) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventCreate: NULL");
    if (flags & ~0xFu) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventCreate: unknown flags 0x%x", flags);
    Event* e = new Event();
    std::lock_guard<std::mutex> lock(handles_mu);
    events.insert(e);
    *event = (CUevent)e;
    return CUDA_SUCCESS;
}

static Event* live_event(CUevent e) {
    std::lock_guard<std::mutex> lock(handles_mu);
    return events.count((void*)e) ? (Event*)e : nullptr;
}

extern "C" CUresult cuEventRecord(CUevent event, CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuEventRecord");
    Event* e = live_event(event);
    if (!e) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord: %p is not a live event", (void*)event);
    if (CUresult r = nnemu_check_stream(stream, "cuEventRecord")) return r;
    e->ms = now_ms();
    e->recorded = true;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuEventSynchronize(CUevent event) {
    NNEMU_REQUIRE_CONTEXT("cuEventSynchronize");
    if (!live_event(event)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize: %p is not a live event", (void*)event);
    return CUDA_SUCCESS;
}

extern "C" CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
    NNEMU_REQUIRE_CONTEXT("cuEventElapsedTime");
    if (!ms) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventElapsedTime: NULL");
    Event* a = live_event(start);
    Event* b = live_event(end);
    if (!a || !b) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: %p or %p is not a live event", (void*)start, (void*)end);
    if (!a->recorded || !b->recorded)
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: the %s event was never recorded", a->recorded ? "end" : "start");
    *ms = (float)(b->ms - a->ms);
    return CUDA_SUCCESS;
}

extern "C" CUresult cuEventDestroy_v2(CUevent event) {
    NNEMU_REQUIRE_CONTEXT("cuEventDestroy_v2");
    std::lock_guard<std::mutex> lock(handles_mu);
    if (!events.erase((void*)event))
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy_v2: %p is not a live event (destroyed twice?)", (void*)event);
    delete (Event*)event;
    return CUDA_SUCCESS;
}

// ------------------------------------------------------------------------------------ fault handler
namespace {
struct sigaction previous_segv, previous_bus;
std::once_flag handler_once;

void chain(int sig, siginfo_t* info, void* uctx) {
    struct sigaction& prev = sig == SIGBUS ? previous_bus : previous_segv;
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) { prev.sa_sigaction(sig, info, uctx); return; }
    } else if (prev.sa_handler == SIG_IGN) {
        return;
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler) {
        prev.sa_handler(sig);
        return;
    }
    // Default action: restore it and return; the faulting instruction runs again and kills the process.
    signal(sig, SIG_DFL);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    if (thread_in_launch()) escape_launch((uint64_t)info->si_addr);
    chain(sig, info, uctx);
}
}  // namespace

namespace nnemu {
// Installed at cuInit, i.e. after the .NET runtime installed its own handler, which we chain to
// for every fault that is not an emulated kernel's (the runtime turns those into NullReferenceException).
void install_fault_handler() {
    std::call_once(handler_once, [] {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous_segv);
        sigaction(SIGBUS, &sa, &previous_bus);
    });
}
}  // namespace nnemu
