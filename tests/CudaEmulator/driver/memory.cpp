// Strict device memory: every allocation is carved out of one reserved PROT_NONE virtual range,
// ends at a page boundary followed by an inaccessible guard page (one element past the end
// faults), is preceded by poisoned slack and a guard page (checked after every kernel and copy),
// is poisoned on allocate, and on free becomes inaccessible and is never handed out again
// (quarantine), so any later use faults or is reported.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <iterator>
#include <map>
#include <mutex>
#include <string>

#include "internal.h"

namespace nnemu {
namespace {

constexpr size_t kReserveBytes = size_t(1) << 40;  // 1 TiB of address space, never committed up front
constexpr size_t kAlign = 8;                        // start alignment: the widest scalar the kernels use
constexpr unsigned char kPoisonAlloc = 0xFF;        // NaN in float and double, -1 in int32
constexpr unsigned char kPoisonFree = 0xDD;
constexpr unsigned char kCanary = 0xCB;

struct Allocation {
    uint64_t region = 0;     // first byte of the leading guard page
    size_t region_bytes = 0; // guard page + data pages
    uint64_t start = 0;      // what cuMemAlloc returned
    size_t size = 0;         // bytes asked for
    size_t accounted = 0;    // bytes counted against the device's memory size
    bool live = true;
};

std::mutex mu;
uint64_t reserve_base = 0, reserve_end = 0, bump = 0;
size_t total_bytes = 0, used_bytes = 0;
std::map<uint64_t, Allocation> by_region;  // keyed by region; freed ones stay (quarantine)

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

void init_locked() {
    if (reserve_base) return;
    void* p = mmap(nullptr, kReserveBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "nnemu: cannot reserve %zu bytes of address space: %s\n", kReserveBytes, strerror(errno));
        abort();
    }
    reserve_base = bump = (uint64_t)p;
    reserve_end = reserve_base + kReserveBytes;
    size_t mb = 4096;
    if (const char* env = getenv("NNEMU_DEVICE_MEMORY_MB")) {
        char* end = nullptr;
        unsigned long long v = strtoull(env, &end, 10);
        if (end && *end == 0 && v > 0) mb = (size_t)v;
        else fprintf(stderr, "nnemu: ignoring NNEMU_DEVICE_MEMORY_MB='%s' (want a positive integer)\n", env);
    }
    total_bytes = mb << 20;
}

const Allocation* find_locked(uint64_t address) {
    auto it = by_region.upper_bound(address);
    if (it == by_region.begin()) return nullptr;
    --it;
    const Allocation& a = it->second;
    return address < a.region + a.region_bytes ? &a : nullptr;
}

// The allocation an address belongs to for a message: the one whose region holds it, except that
// the guard page after an allocation's end (the next region's leading guard page, or the unused
// range) is attributed to the allocation it follows, so an overrun reads "past its end".
const Allocation* nearest_locked(uint64_t address) {
    auto it = by_region.upper_bound(address);
    if (it == by_region.begin()) return nullptr;
    --it;
    const Allocation* a = &it->second;
    if (address >= a->region + a->region_bytes) return address < a->region + a->region_bytes + kPage ? a : nullptr;
    if (address < a->region + kPage && it != by_region.begin()) {
        auto prev = std::prev(it);
        if (prev->second.region + prev->second.region_bytes == a->region) return &prev->second;
    }
    return a;
}

std::string describe_locked(uint64_t address) {
    char buf[256];
    if (address < reserve_base || address >= reserve_end) {
        snprintf(buf, sizeof buf, "0x%llx is not a device address (host memory, or never allocated)", (unsigned long long)address);
        return buf;
    }
    const Allocation* a = nearest_locked(address);
    if (!a) {
        snprintf(buf, sizeof buf, "0x%llx is device address space that was never allocated", (unsigned long long)address);
        return buf;
    }
    long long off = (long long)(address - a->start);
    snprintf(buf, sizeof buf, "0x%llx is at offset %lld of %s allocation [0x%llx, +%zu bytes)%s",
             (unsigned long long)address, off, a->live ? "the" : "a FREED", (unsigned long long)a->start, a->size,
             !a->live ? " (use after free)" : off < 0 ? " (before its start)" : (size_t)off >= a->size ? " (past its end)" : "");
    return buf;
}

// Reports the first overwritten byte of the poisoned slack around a live allocation, then
// re-poisons the slack so one overrun is reported once, not by every later call.
std::string canaries_locked(const Allocation& a) {
    char buf[256];
    buf[0] = 0;
    unsigned char* page = (unsigned char*)(a.region + kPage);
    unsigned char* data = (unsigned char*)a.start;
    unsigned char* end = (unsigned char*)(a.region + a.region_bytes);
    for (unsigned char* p = page; p < data && !buf[0]; ++p)
        if (*p != kCanary)
            snprintf(buf, sizeof buf, "poisoned slack at offset %lld before allocation [0x%llx, +%zu bytes) was overwritten (0x%02x)",
                     (long long)(p - data), (unsigned long long)a.start, a.size, *p);
    for (unsigned char* p = data + a.size; p < end && !buf[0]; ++p)
        if (*p != kCanary)
            snprintf(buf, sizeof buf, "poisoned slack at offset %lld (past the end) of allocation [0x%llx, +%zu bytes) was overwritten (0x%02x)",
                     (long long)(p - data), (unsigned long long)a.start, a.size, *p);
    if (!buf[0]) return "";
    memset(page, kCanary, (size_t)(data - page));
    memset(data + a.size, kCanary, (size_t)(end - (data + a.size)));
    return buf;
}

}  // namespace

void memory_init() {
    std::lock_guard<std::mutex> lock(mu);
    init_locked();
}

bool in_reserved_range(uint64_t address) { return address >= reserve_base && address < reserve_end; }

AllocationView find_allocation(uint64_t address) {
    std::lock_guard<std::mutex> lock(mu);
    AllocationView v;
    if (const Allocation* a = find_locked(address)) {
        v.start = a->start;
        v.size = a->size;
        v.live = a->live;
        v.found = true;
    }
    return v;
}

std::string describe_address(uint64_t address) {
    std::lock_guard<std::mutex> lock(mu);
    return describe_locked(address);
}

std::string check_canaries(uint64_t address) {
    std::lock_guard<std::mutex> lock(mu);
    const Allocation* a = find_locked(address);
    if (!a || !a->live) return "";
    return canaries_locked(*a);
}

size_t device_total_bytes() {
    std::lock_guard<std::mutex> lock(mu);
    init_locked();
    return total_bytes;
}

size_t device_used_bytes() {
    std::lock_guard<std::mutex> lock(mu);
    return used_bytes;
}

}  // namespace nnemu

using namespace nnemu;

namespace {
// "" when [ptr, ptr + bytes) lies in one live allocation with intact slack, else why not.
std::string range_error(uint64_t ptr, size_t bytes, const char* call, bool* freed) {
    std::lock_guard<std::mutex> lock(mu);
    const Allocation* a = find_locked(ptr);
    char buf[512];
    *freed = a && !a->live;
    if (!a || !a->live || ptr < a->start || ptr + bytes > a->start + a->size || ptr + bytes < ptr) {
        if (a && a->live && ptr >= a->start && ptr <= a->start + a->size)
            snprintf(buf, sizeof buf, "%s: %zu bytes from 0x%llx (offset %lld) overrun the allocation [0x%llx, +%zu bytes) by %lld bytes",
                     call, bytes, (unsigned long long)ptr, (long long)(ptr - a->start), (unsigned long long)a->start, a->size,
                     (long long)(ptr + bytes - (a->start + a->size)));
        else
            snprintf(buf, sizeof buf, "%s: %zu bytes at %s", call, bytes, describe_locked(ptr).c_str());
        return buf;
    }
    std::string bad = canaries_locked(*a);
    if (!bad.empty()) return std::string(call) + ": " + bad;
    return "";
}
}  // namespace

extern "C" int nnemu_check_device_range(uint64_t ptr, size_t bytes, const char* call) {
    bool freed;
    std::string err = range_error(ptr, bytes, call, &freed);
    if (err.empty()) return 0;
    nnemu_report("%s", err.c_str());
    return 1;
}

extern "C" CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
    NNEMU_REQUIRE_CONTEXT("cuMemAlloc_v2");
    if (!dptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc_v2: dptr is NULL");
    if (bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc_v2: 0 bytes requested");
    std::lock_guard<std::mutex> lock(mu);
    init_locked();
    size_t accounted = round_up(bytes, 512);
    if (bytes > total_bytes || used_bytes + accounted > total_bytes)
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2: %zu bytes requested, %zu of %zu bytes in use (NNEMU_DEVICE_MEMORY_MB=%zu)",
                    bytes, used_bytes, total_bytes, total_bytes >> 20);
    size_t data_bytes = round_up(bytes, kAlign);
    size_t data_pages = round_up(data_bytes, kPage);
    size_t region_bytes = kPage + data_pages;  // leading guard page + data; the next region's guard (or PROT_NONE) follows
    if (bump + region_bytes + kPage > reserve_end)
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2: the emulator's 1 TiB address range is used up");
    uint64_t region = bump;
    bump += region_bytes;
    void* data_page = (void*)(region + kPage);
    if (mprotect(data_page, data_pages, PROT_READ | PROT_WRITE) != 0)
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2: mprotect of %zu bytes failed: %s", data_pages, strerror(errno));
    uint64_t start = region + region_bytes - data_bytes;
    memset(data_page, kCanary, data_pages);
    memset((void*)start, kPoisonAlloc, bytes);
    Allocation a;
    a.region = region;
    a.region_bytes = region_bytes;
    a.start = start;
    a.size = bytes;
    a.accounted = accounted;
    by_region[region] = a;
    used_bytes += accounted;
    *dptr = start;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuMemFree_v2(CUdeviceptr dptr) {
    NNEMU_REQUIRE_CONTEXT("cuMemFree_v2");
    if (dptr == 0) return CUDA_SUCCESS;
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_region.upper_bound(dptr);
    Allocation* a = nullptr;
    if (it != by_region.begin()) {
        --it;
        if (dptr < it->second.region + it->second.region_bytes) a = &it->second;
    }
    if (!a || a->start != dptr || !a->live) {
        std::string what = describe_locked(dptr);
        if (a && !a->live && a->start == dptr)
            return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree_v2: double free of 0x%llx (%zu bytes, already freed)",
                        (unsigned long long)dptr, a->size);
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree_v2: not the start of a live allocation: %s", what.c_str());
    }
    std::string bad = canaries_locked(*a);
    void* data_page = (void*)(a->region + kPage);
    size_t data_pages = a->region_bytes - kPage;
    memset((void*)a->start, kPoisonFree, a->size);
    madvise(data_page, data_pages, MADV_DONTNEED);
    mprotect(data_page, data_pages, PROT_NONE);
    a->live = false;
    used_bytes -= a->accounted;
    if (!bad.empty()) return fail(CUDA_ERROR_ILLEGAL_ADDRESS, "cuMemFree_v2: %s", bad.c_str());
    return CUDA_SUCCESS;
}

// ------------------------------------------------------------------------------------ pinned host memory
namespace {
std::mutex host_mu;
std::map<uint64_t, size_t> host_blocks;

CUresult check_host(const void* p, size_t bytes, const char* call) {
    uint64_t a = (uint64_t)p;
    if (p == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "%s: host pointer is NULL", call);
    if (in_reserved_range(a))
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: host pointer expected, got device memory: %s", call, describe_address(a).c_str());
    std::lock_guard<std::mutex> lock(host_mu);
    auto it = host_blocks.upper_bound(a);
    if (it != host_blocks.begin()) {
        --it;
        if (a < it->first + it->second && a + bytes > it->first + it->second)
            return fail(CUDA_ERROR_INVALID_VALUE, "%s: %zu bytes from 0x%llx overrun the pinned host block [0x%llx, +%zu bytes)", call,
                        bytes, (unsigned long long)a, (unsigned long long)it->first, it->second);
    }
    return CUDA_SUCCESS;
}

CUresult check_device(CUdeviceptr p, size_t bytes, const char* call) {
    bool freed;
    std::string err = range_error(p, bytes, call, &freed);
    if (err.empty()) return CUDA_SUCCESS;
    return fail(freed ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_ERROR_INVALID_VALUE, "%s", err.c_str());
}
}  // namespace

extern "C" CUresult cuMemAllocHost_v2(void** pp, size_t bytes) {
    NNEMU_REQUIRE_CONTEXT("cuMemAllocHost_v2");
    if (!pp) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost_v2: pp is NULL");
    if (bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost_v2: 0 bytes requested");
    void* p = nullptr;
    if (posix_memalign(&p, kPage, bytes) != 0) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAllocHost_v2: %zu bytes", bytes);
    memset(p, kPoisonAlloc, bytes);
    std::lock_guard<std::mutex> lock(host_mu);
    host_blocks[(uint64_t)p] = bytes;
    *pp = p;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuMemFreeHost(void* p) {
    NNEMU_REQUIRE_CONTEXT("cuMemFreeHost");
    std::lock_guard<std::mutex> lock(host_mu);
    auto it = host_blocks.find((uint64_t)p);
    if (it == host_blocks.end())
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost: 0x%llx is not a live block from cuMemAllocHost (double free?)",
                    (unsigned long long)(uint64_t)p);
    memset(p, kPoisonFree, it->second);
    host_blocks.erase(it);
    free(p);
    return CUDA_SUCCESS;
}

// Stream handles are validated in driver.cpp.
CUresult nnemu_check_stream(CUstream s, const char* call);

extern "C" CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuMemcpyHtoDAsync_v2");
    if (CUresult r = nnemu_check_stream(stream, "cuMemcpyHtoDAsync_v2")) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (CUresult r = check_device(dst, bytes, "cuMemcpyHtoDAsync_v2 (destination)")) return r;
    if (CUresult r = check_host(src, bytes, "cuMemcpyHtoDAsync_v2 (source)")) return r;
    memcpy((void*)dst, src, bytes);
    return CUDA_SUCCESS;
}

extern "C" CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuMemcpyDtoHAsync_v2");
    if (CUresult r = nnemu_check_stream(stream, "cuMemcpyDtoHAsync_v2")) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (CUresult r = check_device(src, bytes, "cuMemcpyDtoHAsync_v2 (source)")) return r;
    if (CUresult r = check_host(dst, bytes, "cuMemcpyDtoHAsync_v2 (destination)")) return r;
    memcpy(dst, (const void*)src, bytes);
    return CUDA_SUCCESS;
}

extern "C" CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuMemcpyDtoDAsync_v2");
    if (CUresult r = nnemu_check_stream(stream, "cuMemcpyDtoDAsync_v2")) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (CUresult r = check_device(dst, bytes, "cuMemcpyDtoDAsync_v2 (destination)")) return r;
    if (CUresult r = check_device(src, bytes, "cuMemcpyDtoDAsync_v2 (source)")) return r;
    memmove((void*)dst, (const void*)src, bytes);
    return CUDA_SUCCESS;
}

extern "C" CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count, CUstream stream) {
    NNEMU_REQUIRE_CONTEXT("cuMemsetD32Async");
    if (CUresult r = nnemu_check_stream(stream, "cuMemsetD32Async")) return r;
    if (count == 0) return CUDA_SUCCESS;
    if (dst % 4 != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemsetD32Async: 0x%llx is not 4-byte aligned", (unsigned long long)dst);
    if (count > SIZE_MAX / 4) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemsetD32Async: count %zu overflows", count);
    if (CUresult r = check_device(dst, count * 4, "cuMemsetD32Async")) return r;
    unsigned int* p = (unsigned int*)dst;
    for (size_t i = 0; i < count; ++i) p[i] = value;
    return CUDA_SUCCESS;
}
