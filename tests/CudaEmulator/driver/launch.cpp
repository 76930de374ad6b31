// Modules and launches: cuModuleLoadData reads the PTX `.entry` signatures and binds each entry to
// the CPU build of the same kernel (kernels/nnemu_registry.h); cuLaunchKernel checks the launch
// against the signature and runs every block on the calling thread, its threads as fibers.
#include <dlfcn.h>
#include <link.h>
#include <setjmp.h>
#include <stdlib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../kernels/nnemu_registry.h"
#include "internal.h"

#if !defined(__x86_64__)
#error "the emulator's fiber switch is written for x86-64"
#endif

struct uint3 { unsigned int x, y, z; };
extern "C" {
__thread uint3 nnemu_threadIdx, nnemu_blockIdx, nnemu_blockDim, nnemu_gridDim;
__thread int nnemu_used_atomics;
void nnemu_switch_context(void** save_sp, void* next_sp);
void nnemu_kernel_error(const char* file, int line, const char* what, unsigned value) __attribute__((noreturn));
}

// Saves the callee-saved registers on the current stack, stores the stack pointer in *save_sp, and
// resumes the context whose stack pointer is next_sp. MXCSR and the x87 control word are not
// switched: kernels never change them, so every fiber runs in the launcher's floating-point mode.
asm(R"(
.text
.globl nnemu_switch_context
.hidden nnemu_switch_context
.type nnemu_switch_context,@function
nnemu_switch_context:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size nnemu_switch_context, .-nnemu_switch_context
)");

namespace nnemu {
namespace {

// ------------------------------------------------------------------------------------ registry
struct KernelBuild {
    std::string name, file;
    void* fn = nullptr;
    nnemu_invoke invoke = nullptr;
    std::vector<nnemu_param> params;
};

std::unordered_map<std::string, KernelBuild>& builds() {
    static std::unordered_map<std::string, KernelBuild> map;
    return map;
}
std::string duplicate_builds;

// ------------------------------------------------------------------------------------ modules
struct PtxParam {
    size_t size;
    char kind;  // 'f' float, 'i' integer or pointer, 'a' byte array (a struct by value)
    std::string type;
};
struct Module;
struct Function {
    Module* module;
    std::string name;
    std::vector<PtxParam> params;
    const KernelBuild* build;
    size_t static_shared = 0;  // bytes of the module's .shared variables the entry's body names
};
struct Module {
    bool live = true;
    std::vector<Function*> functions;
};
std::mutex modules_mu;
std::map<void*, Module*> modules;
std::map<void*, Function*> functions;

size_t ptx_type_size(const std::string& t, char* kind) {
    *kind = t[1] == 'f' ? 'f' : 'i';
    if (t.size() < 3) return 0;
    int bits = atoi(t.c_str() + 2);
    return bits > 0 ? (size_t)bits / 8 : 0;
}

// Parses `.param [.attrs] .type name[N]` entries of one `.entry name( ... )` list.
bool parse_params(const std::string& list, std::vector<PtxParam>* out, std::string* err) {
    size_t pos = 0;
    while ((pos = list.find(".param", pos)) != std::string::npos) {
        size_t end = list.find_first_of(",", pos);
        std::string item = list.substr(pos + 6, end == std::string::npos ? std::string::npos : end - pos - 6);
        pos = end == std::string::npos ? list.size() : end + 1;
        std::vector<std::string> tokens;
        size_t i = 0;
        while (i < item.size()) {
            while (i < item.size() && isspace((unsigned char)item[i])) ++i;
            size_t j = i;
            while (j < item.size() && !isspace((unsigned char)item[j])) ++j;
            if (j > i) tokens.push_back(item.substr(i, j - i));
            i = j;
        }
        std::string type;
        for (size_t k = 0; k < tokens.size(); ++k) {
            const std::string& t = tokens[k];
            if (t == ".align" || t == ".ptr" || t == ".global" || t == ".const" || t == ".local" || t == ".shared") {
                if (t == ".align") ++k;
                continue;
            }
            if (t.size() > 2 && t[0] == '.' && (t[1] == 'u' || t[1] == 's' || t[1] == 'b' || t[1] == 'f') && isdigit((unsigned char)t[2])) type = t;
        }
        if (type.empty() || tokens.empty()) { *err = "cannot read PTX parameter '" + item + "'"; return false; }
        PtxParam p;
        p.type = type;
        p.size = ptx_type_size(type, &p.kind);
        const std::string& name = tokens.back();
        size_t br = name.find('[');
        if (br != std::string::npos) {
            p.size *= (size_t)atoll(name.c_str() + br + 1);
            p.kind = 'a';
        }
        out->push_back(p);
    }
    return true;
}

// `.shared [.align N] .type name[count];` declarations, at module or function scope (not the
// `ld.shared`/`st.shared` instructions): name -> bytes.
std::vector<std::pair<std::string, size_t>> shared_declarations(const std::string& ptx) {
    std::vector<std::pair<std::string, size_t>> out;
    size_t pos = 0;
    while ((pos = ptx.find(".shared", pos)) != std::string::npos) {
        bool declaration = (pos == 0 || isspace((unsigned char)ptx[pos - 1])) && pos + 7 < ptx.size() && isspace((unsigned char)ptx[pos + 7]);
        if (!declaration) { pos += 7; continue; }
        size_t end = ptx.find(';', pos);
        if (end == std::string::npos) break;
        std::string decl = ptx.substr(pos + 7, end - pos - 7);
        pos = end;
        std::vector<std::string> tokens;
        size_t i = 0;
        while (i < decl.size()) {
            while (i < decl.size() && isspace((unsigned char)decl[i])) ++i;
            size_t j = i;
            while (j < decl.size() && !isspace((unsigned char)decl[j])) ++j;
            if (j > i) tokens.push_back(decl.substr(i, j - i));
            i = j;
        }
        if (tokens.size() < 2) continue;
        std::string type = tokens[tokens.size() - 2], name = tokens.back();
        char kind;
        size_t size = ptx_type_size(type, &kind);
        size_t br = name.find('[');
        if (br != std::string::npos) {
            size *= (size_t)atoll(name.c_str() + br + 1);
            name = name.substr(0, br);
        }
        out.emplace_back(name, size);
    }
    return out;
}

std::string signature(const std::vector<PtxParam>& ps) {
    std::string s = "(";
    for (size_t i = 0; i < ps.size(); ++i) {
        if (i) s += ", ";
        s += ps[i].type;
        if (ps[i].kind == 'a') s += "[" + std::to_string(ps[i].size) + "]";
    }
    return s + ")";
}

// ------------------------------------------------------------------------------------ fibers
constexpr size_t kStackBytes = 64 * 1024;
enum State { kReady, kWaitBlock, kWaitWarp, kDone, kFailed };

struct Fiber {
    void* sp = nullptr;
    uint8_t* stack = nullptr;
    State state = kReady;
    bool started = false;
    unsigned mask = 0;
    const char* file = "";
    int line = 0;
    uint3 tid;
};

struct Launch {
    const Function* function = nullptr;
    void** args = nullptr;
    unsigned threads = 0;
    std::vector<Fiber> fibers;
    std::vector<uint64_t> slots;        // per warp, two buffers of 32 published values
    std::vector<unsigned> warp_epoch;   // per warp: completed warp operations (selects the buffer)
    Fiber* current = nullptr;
    void* scheduler_sp = nullptr;
    std::string error;
    sigjmp_buf escape;
    volatile bool in_fiber = false;
    bool reverse = false;  // run threads (and blocks) in descending order
};

thread_local Launch* active = nullptr;
thread_local std::vector<uint8_t*> stack_pool;

uint8_t* take_stack() {
    if (!stack_pool.empty()) {
        uint8_t* s = stack_pool.back();
        stack_pool.pop_back();
        return s;
    }
    void* p = mmap(nullptr, kStackBytes + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    mprotect(p, kPage, PROT_NONE);  // overflow guard below the stack
    return (uint8_t*)p + kPage;
}

void fiber_main() {
    Launch* L = active;
    L->function->build->invoke(L->function->build->fn, L->args);
    L->current->state = kDone;
    nnemu_switch_context(&L->current->sp, L->scheduler_sp);
    __builtin_unreachable();
}

void start_fiber(Fiber& f) {
    f.stack = take_stack();
    uint64_t* top = (uint64_t*)(f.stack + kStackBytes);
    uint64_t* sp = top - 8;
    for (int r = 0; r < 6; ++r) sp[r] = 0;  // r15 r14 r13 r12 rbx rbp
    sp[6] = (uint64_t)&fiber_main;
    sp[7] = 0;
    f.sp = sp;
    f.started = true;
}

void switch_to(Launch* L, Fiber& f) {
    L->current = &f;
    nnemu_threadIdx = f.tid;
    L->in_fiber = true;
    nnemu_switch_context(&L->scheduler_sp, f.sp);
    L->in_fiber = false;
    if (f.state == kDone) {
        stack_pool.push_back(f.stack);
        f.stack = nullptr;
    }
}

void yield(Launch* L) {
    Fiber* f = L->current;
    nnemu_switch_context(&f->sp, L->scheduler_sp);
    nnemu_threadIdx = f->tid;
}

std::string thread_name(const Launch* L, const Fiber& f) {
    char buf[96];
    snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", nnemu_blockIdx.x, nnemu_blockIdx.y, nnemu_blockIdx.z, f.tid.x,
             f.tid.y, f.tid.z);
    (void)L;
    return buf;
}

// Runs one block to completion; false (with L->error) when a barrier cannot be satisfied.
bool run_block(Launch* L) {
    unsigned n = L->threads;
    unsigned bx = nnemu_blockDim.x, by = nnemu_blockDim.y;
    for (unsigned i = 0; i < n; ++i) {
        Fiber& f = L->fibers[i];
        f.state = kReady;
        f.started = false;
        f.tid = uint3{i % bx, (i / bx) % by, i / (bx * by)};
    }
    std::vector<unsigned> ready(n), next;
    for (unsigned i = 0; i < n; ++i) ready[i] = L->reverse ? n - 1 - i : i;
    unsigned done = 0;
    char buf[512];
    while (true) {
        for (unsigned i : ready) {
            Fiber& f = L->fibers[i];
            if (!f.started) start_fiber(f);
            if (!f.stack) { L->error = "cannot allocate a fiber stack"; return false; }
            switch_to(L, f);
            if (f.state == kFailed) return false;
            if (f.state == kDone) ++done;
        }
        ready.clear();
        if (done == n) return true;

        // Warps whose every lane of the mask waits at a warp barrier with that mask go on.
        unsigned warps = (n + 31) / 32;
        for (unsigned w = 0; w < warps; ++w) {
            unsigned first = w * 32, lanes = n - first < 32 ? n - first : 32;
            int waiting = -1;
            for (unsigned l = 0; l < lanes; ++l)
                if (L->fibers[first + l].state == kWaitWarp) { waiting = (int)l; break; }
            if (waiting < 0) continue;
            const Fiber& wf = L->fibers[first + waiting];
            unsigned mask = wf.mask;
            bool all = true;
            for (unsigned l = 0; l < 32 && all; ++l) {
                if (!((mask >> l) & 1u)) continue;
                if (l >= lanes) {
                    snprintf(buf, sizeof buf, "warp operation at %s:%d with mask 0x%08x names lane %u, which does not exist "
                             "(block of %u threads; %s)", wf.file, wf.line, mask, l, n, thread_name(L, wf).c_str());
                    L->error = buf;
                    return false;
                }
                const Fiber& o = L->fibers[first + l];
                if (o.state == kDone) {
                    snprintf(buf, sizeof buf, "warp operation at %s:%d with mask 0x%08x: lane %u had already exited (%s waits)",
                             wf.file, wf.line, mask, l, thread_name(L, wf).c_str());
                    L->error = buf;
                    return false;
                }
                if (o.state != kWaitWarp) { all = false; break; }
                if (o.mask != mask || o.line != wf.line || (o.file != wf.file && strcmp(o.file, wf.file) != 0)) {
                    snprintf(buf, sizeof buf, "divergent warp operation: lane %u at %s:%d (mask 0x%08x), lane %u at %s:%d (mask 0x%08x)",
                             (unsigned)waiting, wf.file, wf.line, mask, l, o.file, o.line, o.mask);
                    L->error = buf;
                    return false;
                }
            }
            for (unsigned l = 0; l < lanes && all; ++l) {
                const Fiber& o = L->fibers[first + l];
                if (!((mask >> l) & 1u) && o.state == kWaitWarp) {
                    snprintf(buf, sizeof buf, "concurrent warp operations with different masks in one warp: lane %u at %s:%d (mask 0x%08x), "
                             "lane %u at %s:%d (mask 0x%08x)", (unsigned)waiting, wf.file, wf.line, mask, l, o.file, o.line, o.mask);
                    L->error = buf;
                    return false;
                }
            }
            if (!all) continue;
            L->warp_epoch[w]++;
            for (unsigned l = 0; l < 32; ++l)
                if ((mask >> l) & 1u) {
                    L->fibers[first + l].state = kReady;
                    ready.push_back(first + l);
                }
        }
        if (!ready.empty()) {
            // Released warp by warp, lane by lane: already ascending.
            if (L->reverse) std::reverse(ready.begin(), ready.end());
            continue;
        }

        // The block barrier opens when every thread of the block waits at the same __syncthreads.
        const Fiber* at_block = nullptr;
        const Fiber* exited = nullptr;
        const Fiber* at_warp = nullptr;
        for (const Fiber& f : L->fibers) {
            if (&f - L->fibers.data() >= (long)n) break;
            if (f.state == kWaitBlock && !at_block) at_block = &f;
            if (f.state == kDone && !exited) exited = &f;
            if (f.state == kWaitWarp && !at_warp) at_warp = &f;
        }
        if (at_block && !exited && !at_warp) {
            for (unsigned i = 0; i < n; ++i) {
                const Fiber& f = L->fibers[i];
                if (f.line != at_block->line || (f.file != at_block->file && strcmp(f.file, at_block->file) != 0)) {
                    snprintf(buf, sizeof buf, "divergent __syncthreads: %s waits at %s:%d, %s at %s:%d", thread_name(L, *at_block).c_str(),
                             at_block->file, at_block->line, thread_name(L, f).c_str(), f.file, f.line);
                    L->error = buf;
                    return false;
                }
            }
            for (unsigned i = 0; i < n; ++i) {
                L->fibers[i].state = kReady;
                ready.push_back(L->reverse ? n - 1 - i : i);
            }
            continue;
        }
        if (at_block && exited)
            snprintf(buf, sizeof buf, "divergent __syncthreads at %s:%d: reached by %u of %u threads of the block; %s had already exited",
                     at_block->file, at_block->line, n - done, n, thread_name(L, *exited).c_str());
        else if (at_warp && at_block)
            snprintf(buf, sizeof buf, "deadlock: %s waits at a warp operation at %s:%d while %s waits at __syncthreads at %s:%d",
                     thread_name(L, *at_warp).c_str(), at_warp->file, at_warp->line, thread_name(L, *at_block).c_str(), at_block->file,
                     at_block->line);
        else if (at_warp)
            snprintf(buf, sizeof buf, "warp operation at %s:%d (mask 0x%08x) is never reached by every lane of its mask (%s waits)",
                     at_warp->file, at_warp->line, at_warp->mask, thread_name(L, *at_warp).c_str());
        else
            snprintf(buf, sizeof buf, "the block's threads cannot make progress");
        L->error = buf;
        return false;
    }
}

// ------------------------------------------------------------------------------------ kernels library
void* kernels_lib = nullptr;
size_t kernels_tls_bytes = 0;
std::string kernels_error;
thread_local unsigned char* shared_block = nullptr;

int find_tls_size(struct dl_phdr_info* info, size_t, void* data) {
    struct link_map* map = (struct link_map*)data;
    if (info->dlpi_addr != map->l_addr || strcmp(info->dlpi_name, map->l_name) != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_TLS) kernels_tls_bytes = info->dlpi_phdr[i].p_memsz;
    return 1;
}

// The calling thread's __shared__ storage of the kernels library (allocated by touching it).
unsigned char* thread_shared_block() {
    if (shared_block || !kernels_lib || kernels_tls_bytes == 0) return shared_block;
    auto touch = (void* (*)(void))dlsym(kernels_lib, "nnemu_kernels_touch_tls");
    if (touch) touch();
    void* block = nullptr;
    if (dlinfo(kernels_lib, RTLD_DI_TLS_DATA, &block) == 0) shared_block = (unsigned char*)block;
    return shared_block;
}

void release_stacks(Launch* L) {
    for (Fiber& fb : L->fibers)
        if (fb.stack) {
            stack_pool.push_back(fb.stack);
            fb.stack = nullptr;
        }
}

// Runs every block of the grid; 0 when done, 1 when a block failed (L->error), 2 on a fault.
int run_grid(Launch* L, unsigned gx, unsigned gy, unsigned gz, bool reverse, unsigned char* shared) {
    L->reverse = reverse;
    L->error.clear();
    if (sigsetjmp(L->escape, 1) != 0) {
        release_stacks(L);  // the abandoned fibers' frames are dead
        return 2;
    }
    unsigned long long total = (unsigned long long)gx * gy * gz;
    for (unsigned long long b = 0; b < total; ++b) {
        unsigned long long i = reverse ? total - 1 - b : b;
        nnemu_blockIdx = uint3{(unsigned)(i % gx), (unsigned)((i / gx) % gy), (unsigned)(i / ((unsigned long long)gx * gy))};
        // Every block starts with poisoned shared memory (NaN in float and double), as it would
        // start with whatever an earlier block left on a GPU.
        if (shared) memset(shared, 0xFF, kernels_tls_bytes);
        if (!run_block(L)) {
            release_stacks(L);
            return 1;
        }
    }
    release_stacks(L);
    return 0;
}

}  // namespace

// Loads libnnemu_kernels.so from this library's folder; its static constructors register every kernel.
bool load_kernels(std::string* error) {
    static std::once_flag once;
    std::call_once(once, [] {
        Dl_info self;
        if (!dladdr((void*)&load_kernels, &self) || !self.dli_fname) { kernels_error = "cannot locate libcuda.so.1 itself"; return; }
        std::string path = self.dli_fname;
        path = path.substr(0, path.find_last_of('/') + 1) + "libnnemu_kernels.so";
        kernels_lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!kernels_lib) { kernels_error = std::string("cannot load ") + path + ": " + dlerror(); return; }
        struct link_map* map = nullptr;
        if (dlinfo(kernels_lib, RTLD_DI_LINKMAP, &map) == 0 && map) dl_iterate_phdr(find_tls_size, map);
    });
    *error = kernels_error;
    return kernels_lib != nullptr;
}

bool thread_in_launch() { return active && active->in_fiber; }

void escape_launch(uint64_t fault_address) {
    Launch* L = active;
    L->in_fiber = false;
    char buf[768];
    snprintf(buf, sizeof buf, "%s at %s: %s", "illegal memory access", thread_name(L, *L->current).c_str(),
             describe_address(fault_address).c_str());
    L->error = buf;
    siglongjmp(L->escape, 1);
}

}  // namespace nnemu

using namespace nnemu;

extern "C" void nnemu_register_kernel(const char* name, const char* file, void* fn, nnemu_invoke invoke, const nnemu_param* params,
                                      int count) {
    auto& map = builds();
    if (map.count(name)) {
        duplicate_builds += std::string(" ") + name + " (" + map[name].file + ", " + file + ")";
        return;
    }
    KernelBuild b;
    b.name = name;
    b.file = file;
    b.fn = fn;
    b.invoke = invoke;
    b.params.assign(params, params + count);
    map[name] = b;
}

extern "C" void nnemu_syncthreads(const char* file, int line) {
    Launch* L = active;
    L->current->state = kWaitBlock;
    L->current->file = file;
    L->current->line = line;
    yield(L);
}

extern "C" const uint64_t* nnemu_warp_publish(unsigned mask, uint64_t bits, const char* file, int line, unsigned* lane_out) {
    Launch* L = active;
    Fiber* f = L->current;
    unsigned index = (unsigned)(f - L->fibers.data());
    unsigned lane = index & 31u, warp = index >> 5;
    if (!((mask >> lane) & 1u)) nnemu_kernel_error(file, line, "warp operation called by a lane outside its mask: lane", lane);
    // Values of operation k go to buffer k % 2: a lane can only write it again two operations
    // later, after every lane of the mask has arrived at the operation in between, i.e. read this one.
    uint64_t* slots = &L->slots[((size_t)warp * 2 + (L->warp_epoch[warp] & 1u)) * 32];
    slots[lane] = bits;
    f->state = kWaitWarp;
    f->mask = mask;
    f->file = file;
    f->line = line;
    yield(L);
    *lane_out = lane;
    return slots;
}

extern "C" void nnemu_kernel_error(const char* file, int line, const char* what, unsigned value) {
    Launch* L = active;
    char buf[512];
    snprintf(buf, sizeof buf, "%s %u at %s:%d (%s)", what, value, file, line, thread_name(L, *L->current).c_str());
    L->error = buf;
    L->current->state = kFailed;
    nnemu_switch_context(&L->current->sp, L->scheduler_sp);
    __builtin_unreachable();
}

extern "C" CUresult cuModuleLoadData(CUmodule* module, const void* image) {
    NNEMU_REQUIRE_CONTEXT("cuModuleLoadData");
    if (!module || !image) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadData: NULL argument");
    if (!duplicate_builds.empty())
        return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: the emulator was built with kernels defined twice:%s", duplicate_builds.c_str());
    const unsigned char* bytes = (const unsigned char*)image;
    if (bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F')
        return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: the emulator runs PTX only, not CUBIN/ELF images");
    std::string ptx((const char*)image);
    if (ptx.find(".version") == std::string::npos || ptx.find(".target") == std::string::npos)
        return fail(CUDA_ERROR_INVALID_PTX, "cuModuleLoadData: the image is not PTX text (no .version/.target)");
    Module* m = new Module();
    auto shared = shared_declarations(ptx);
    size_t pos = 0;
    while ((pos = ptx.find(".entry", pos)) != std::string::npos) {
        pos += 6;
        size_t open = ptx.find('(', pos), close = ptx.find(')', open);
        if (open == std::string::npos || close == std::string::npos)
            return fail(CUDA_ERROR_INVALID_PTX, "cuModuleLoadData: malformed .entry near offset %zu", pos);
        std::string name = ptx.substr(pos, open - pos);
        name.erase(0, name.find_first_not_of(" \t\r\n"));
        name.erase(name.find_last_not_of(" \t\r\n") + 1);
        Function* f = new Function();
        f->module = m;
        f->name = name;
        std::string err;
        if (!parse_params(ptx.substr(open + 1, close - open - 1), &f->params, &err))
            return fail(CUDA_ERROR_INVALID_PTX, "cuModuleLoadData: entry %s: %s", name.c_str(), err.c_str());
        auto it = builds().find(name);
        if (it == builds().end())
            return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: entry %s has no CPU build in the emulator "
                        "(kernels/*.cu and tests/CudaEmulator/testkernels/*.cu are compiled in; rebuild it: make -C tests/CudaEmulator)",
                        name.c_str());
        const KernelBuild& b = it->second;
        bool same = b.params.size() == f->params.size();
        for (size_t i = 0; same && i < b.params.size(); ++i) {
            const PtxParam& p = f->params[i];
            const nnemu_param& c = b.params[i];
            same = p.size == c.size && (c.floating ? p.kind == 'f' : p.kind != 'f');
        }
        if (!same) {
            std::string cpu = "(";
            for (size_t i = 0; i < b.params.size(); ++i)
                cpu += (i ? ", " : "") + std::to_string(b.params[i].size) + (b.params[i].floating ? "f" : b.params[i].pointer ? "p" : "i");
            return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: entry %s: PTX signature %s differs from the CPU build %s in %s "
                        "(sizes in bytes; rebuild the emulator)", name.c_str(), signature(f->params).c_str(), (cpu + ")").c_str(),
                        b.file.c_str());
        }
        f->build = &b;
        size_t body_end = ptx.find(".entry", close);
        std::string body = ptx.substr(close, body_end == std::string::npos ? std::string::npos : body_end - close);
        for (const auto& [var, bytes] : shared)
            if (body.find(var) != std::string::npos) f->static_shared += bytes;
        m->functions.push_back(f);
        pos = close;
    }
    std::lock_guard<std::mutex> lock(modules_mu);
    modules[m] = m;
    for (Function* f : m->functions) functions[f] = f;
    *module = (CUmodule)m;
    return CUDA_SUCCESS;
}

extern "C" CUresult cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name) {
    NNEMU_REQUIRE_CONTEXT("cuModuleGetFunction");
    if (!function || !name) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleGetFunction: NULL argument");
    std::lock_guard<std::mutex> lock(modules_mu);
    auto it = modules.find((void*)module);
    if (it == modules.end() || !it->second->live)
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction(%s): %p is not a loaded module", name, (void*)module);
    for (Function* f : it->second->functions)
        if (f->name == name) {
            *function = (CUfunction)f;
            return CUDA_SUCCESS;
        }
    return fail(CUDA_ERROR_NOT_FOUND, "cuModuleGetFunction: no entry '%s' in the module (%zu entries)", name, it->second->functions.size());
}

extern "C" CUresult cuModuleUnload(CUmodule module) {
    NNEMU_REQUIRE_CONTEXT("cuModuleUnload");
    std::lock_guard<std::mutex> lock(modules_mu);
    auto it = modules.find((void*)module);
    if (it == modules.end() || !it->second->live)
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload: %p is not a loaded module (unloaded twice?)", (void*)module);
    it->second->live = false;  // its functions stay known so a later launch is reported, not a crash
    return CUDA_SUCCESS;
}

CUresult nnemu_check_stream(CUstream s, const char* call);

// The kernelParams array NativeNet passes ends with NULL, then this marker and each argument's
// size in bytes (a real driver reads only as many entries as the kernel has parameters).
static const uint64_t kSizesMarker = 0x4752414d554d454eull;  // "NEMUMARG"

extern "C" CUresult cuLaunchKernel(CUfunction function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                   unsigned shared_bytes, CUstream stream, void** params, void** extra) {
    NNEMU_REQUIRE_CONTEXT("cuLaunchKernel");
    Function* f;
    {
        std::lock_guard<std::mutex> lock(modules_mu);
        auto it = functions.find((void*)function);
        if (it == functions.end()) return fail(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel: %p is not a kernel function", (void*)function);
        f = it->second;
        if (!f->module->live) return fail(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel(%s): its module was unloaded", f->name.c_str());
    }
    const char* k = f->name.c_str();
    if (CUresult r = nnemu_check_stream(stream, "cuLaunchKernel")) return r;
    if (extra) return fail(CUDA_ERROR_NOT_SUPPORTED, "cuLaunchKernel(%s): the emulator takes kernelParams, not extra", k);
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0)
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): grid (%u,%u,%u) block (%u,%u,%u) has a zero dimension", k, gx, gy, gz, bx, by, bz);
    unsigned long long threads = (unsigned long long)bx * by * bz;
    if (bx > 1024 || by > 1024 || bz > 64 || threads > 1024)
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): block (%u,%u,%u) = %llu threads; at most 1024 per block (x, y <= 1024, z <= 64)",
                    k, bx, by, bz, threads);
    if (gy > 65535 || gz > 65535)
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): grid (%u,%u,%u): y and z are limited to 65535", k, gx, gy, gz);
    if (f->static_shared + shared_bytes > 49152)
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): %zu bytes of static and %u of dynamic shared memory; the limit per block is 49152",
                    k, f->static_shared, shared_bytes);
    size_t count = f->params.size();
    if (count > 0 && !params) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): kernelParams is NULL; the kernel has %zu parameters", k, count);
    for (size_t i = 0; i < count; ++i)
        if (!params[i])
            return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): %zu arguments given, the PTX signature %s has %zu parameters", k, i,
                        signature(f->params).c_str(), count);
    if (params && params[count]) {
        size_t given = count;
        while (given < count + 64 && params[given]) ++given;
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): %s%zu arguments given, the PTX signature %s has %zu parameters", k,
                    given == count + 64 ? "more than " : "", given, signature(f->params).c_str(), count);
    }
    if (params && (uint64_t)params[count + 1] == kSizesMarker)
        for (size_t i = 0; i < count; ++i) {
            size_t given = (size_t)params[count + 2 + i];
            if (given != f->params[i].size)
                return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): argument %zu is %zu bytes, the PTX parameter is %s (%zu bytes); signature %s",
                            k, i, given, f->params[i].type.c_str(), f->params[i].size, signature(f->params).c_str());
        }
    std::vector<uint64_t> touched;
    for (size_t i = 0; i < count; ++i) {
        if (!f->build->params[i].pointer) continue;
        uint64_t p = *(const uint64_t*)params[i];
        if (p == 0) continue;
        if (p % f->build->params[i].pointee_align != 0)
            return fail(CUDA_ERROR_MISALIGNED_ADDRESS, "cuLaunchKernel(%s): pointer argument %zu (0x%llx) is not aligned to the %zu bytes of its element type",
                        k, i, (unsigned long long)p, f->build->params[i].pointee_align);
        AllocationView a = find_allocation(p);
        if (!in_reserved_range(p) || !a.found || !a.live || p < a.start || p > a.start + a.size)
            return fail(a.found && !a.live ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_ERROR_INVALID_VALUE,
                        "cuLaunchKernel(%s): pointer argument %zu: %s", k, i, describe_address(p).c_str());
        touched.push_back(p);
    }

    Launch L;
    L.function = f;
    L.args = params;
    L.threads = (unsigned)threads;
    L.fibers.resize(threads);
    L.slots.assign(((threads + 31) / 32) * 64, 0);
    L.warp_epoch.assign((threads + 31) / 32, 0);
    Launch* outer = active;
    if (outer) return fail(CUDA_ERROR_NOT_SUPPORTED, "cuLaunchKernel(%s): launched from inside a kernel", k);
    // The order check: the launch runs again with threads and blocks in reverse order from the same
    // inputs, and both results must be identical, unless the kernel used atomics (whose float sums
    // legitimately depend on order). A difference is a data race a GPU would hit at random.
    static const bool order_check = [] {
        const char* v = getenv("NNEMU_ORDER_CHECK");
        return !(v && strcmp(v, "0") == 0);
    }();
    struct Snapshot {
        uint64_t start;
        size_t size;
        std::vector<unsigned char> before, forward;
    };
    std::vector<Snapshot> snapshots;
    if (order_check && threads * gx * gy * gz > 1)
        for (uint64_t p : touched) {
            AllocationView a = find_allocation(p);
            bool seen = false;
            for (const Snapshot& sn : snapshots) seen = seen || sn.start == a.start;
            if (seen) continue;
            Snapshot sn;
            sn.start = a.start;
            sn.size = a.size;
            sn.before.assign((const unsigned char*)a.start, (const unsigned char*)a.start + a.size);
            snapshots.push_back(std::move(sn));
        }

    active = &L;
    nnemu_blockDim = uint3{bx, by, bz};
    nnemu_gridDim = uint3{gx, gy, gz};
    nnemu_used_atomics = 0;
    unsigned char* shared = thread_shared_block();
    int r = run_grid(&L, gx, gy, gz, false, shared);
    if (r == 0 && !snapshots.empty() && !nnemu_used_atomics) {
        for (Snapshot& sn : snapshots) {
            sn.forward.assign((const unsigned char*)sn.start, (const unsigned char*)sn.start + sn.size);
            memcpy((void*)sn.start, sn.before.data(), sn.size);
        }
        r = run_grid(&L, gx, gy, gz, true, shared);
        if (r == 0)
            for (const Snapshot& sn : snapshots) {
                const unsigned char* now = (const unsigned char*)sn.start;
                if (memcmp(now, sn.forward.data(), sn.size) == 0) continue;
                size_t off = 0;
                while (off < sn.size && now[off] == sn.forward[off]) ++off;
                active = nullptr;
                return fail(CUDA_ERROR_LAUNCH_FAILED,
                            "cuLaunchKernel(%s): the result depends on the order the threads run (a data race: threads write the same "
                            "element, or one reads what another writes, with no barrier between): byte %zu of allocation [0x%llx, +%zu bytes) "
                            "differs between ascending and descending thread order (grid %u, block %u)",
                            k, off, (unsigned long long)sn.start, sn.size, gx, bx);
            }
    }
    active = nullptr;
    if (r == 2) return fail(CUDA_ERROR_ILLEGAL_ADDRESS, "cuLaunchKernel(%s): %s", k, L.error.c_str());
    if (r == 1) return fail(CUDA_ERROR_LAUNCH_FAILED, "cuLaunchKernel(%s): %s", k, L.error.c_str());
    for (uint64_t p : touched) {
        std::string bad = check_canaries(p);
        if (!bad.empty()) return fail(CUDA_ERROR_ILLEGAL_ADDRESS, "cuLaunchKernel(%s) wrote out of bounds: %s", k, bad.c_str());
    }
    return CUDA_SUCCESS;
}
